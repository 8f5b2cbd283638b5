/* The MPI layer (include/figkd/parallel.h) on the ranks mpirun starts: sums,
 * broadcast, bucketed non-blocking means and the shard split, each checked
 * against the value every rank can compute alone. Run by meson as
 * `mpirun -np 2 test_parallel_mpi`; exits 77 (skipped) in a build without MPI. */
#include "common.h"
#include "figkd/parallel.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (!fk_par_built_with_mpi()) {
        printf("built without MPI: skipped\n");
        return FK_TEST_SKIP;
    }
    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
    fk_par d;
    if (fk_par_init(&argc, &argv, launched, &d) != FK_OK)
        return 1;
    CHECK(d.active && d.size == 2, "expected 2 ranks under mpirun, got active %d size %d", d.active, d.size);
    CHECK(d.rank >= 0 && d.rank < d.size && d.local_rank == d.rank && d.local_size == d.size,
          "rank %d local %d of %d", d.rank, d.local_rank, d.local_size);
    int r = d.rank, n = d.size;

    /* sums: rank r contributes r + 1 + i */
    float f[5];
    double g[3];
    long long k[2];
    for (int i = 0; i < 5; i++)
        f[i] = (float)(r + 1 + i);
    for (int i = 0; i < 3; i++)
        g[i] = 0.5 * (r + 1) + i;
    k[0] = r + 1;
    k[1] = 1LL << 40;
    CHECK(fk_par_sum_f32(&d, f, 5) == FK_OK && fk_par_sum_f64(&d, g, 3) == FK_OK &&
          fk_par_sum_i64(&d, k, 2) == FK_OK, "sum calls");
    double ranks = n * (n + 1) / 2.0;
    for (int i = 0; i < 5; i++)
        CHECK(f[i] == (float)(ranks + n * i), "f32 sum[%d] = %g, expected %g", i, (double)f[i], ranks + n * i);
    for (int i = 0; i < 3; i++)
        CHECK(g[i] == 0.5 * ranks + n * i, "f64 sum[%d] = %g", i, g[i]);
    CHECK(k[0] == (long long)ranks && k[1] == (long long)n << 40, "i64 sums %lld %lld", k[0], k[1]);

    /* broadcast from the last rank */
    char msg[32];
    snprintf(msg, sizeof msg, "from rank %d", r);
    CHECK(fk_par_bcast(&d, msg, sizeof msg, n - 1) == FK_OK, "bcast");
    char want[32];
    snprintf(want, sizeof want, "from rank %d", n - 1);
    CHECK(!strcmp(msg, want), "bcast gave '%s', expected '%s'", msg, want);

    /* two buckets in flight at once, finished in reverse order: the mean */
    float a[1000], b[7];
    for (int i = 0; i < 1000; i++)
        a[i] = (float)(r * 1000 + i);
    for (int i = 0; i < 7; i++)
        b[i] = r ? 3.0f : 1.0f;
    fk_par_bucket ba = {a, 1000, NULL}, bb = {b, 7, NULL};
    CHECK(fk_par_bucket_start(&d, &ba) == FK_OK && fk_par_bucket_start(&d, &bb) == FK_OK, "bucket start");
    CHECK(fk_par_bucket_finish(&d, &bb) == FK_OK && fk_par_bucket_finish(&d, &ba) == FK_OK, "bucket finish");
    double mean_r = (n - 1) / 2.0;
    for (int i = 0; i < 1000; i++)
        if (a[i] != (float)(mean_r * 1000 + i)) {
            CHECK(0, "bucket mean a[%d] = %g, expected %g", i, (double)a[i], mean_r * 1000 + i);
            break;
        }
    CHECK(n != 2 || b[0] == 2.0f, "bucket mean b[0] = %g, expected 2", (double)b[0]);

    /* shards cover 0..total once, sizes differ by at most one */
    long total = 11, begin, end;
    fk_par_shard(&d, total, &begin, &end);
    long long cover[2] = {end - begin, begin == 0 || begin == total / n + (total % n > 0)};
    CHECK(fk_par_sum_i64(&d, cover, 2) == FK_OK && cover[0] == total && cover[1] == n,
          "shards cover %lld of %ld items; %lld ranks start where the one before ends", cover[0], total, cover[1]);
    CHECK(end - begin == total / n || end - begin == total / n + 1, "shard of %ld items", end - begin);

    int failures = fk_test_failures;
    long long all[1] = {failures};
    fk_par_sum_i64(&d, all, 1);
    fk_par_finalize(&d);
    if (r == 0)
        printf("parallel: %d ranks, %lld failures over all ranks\n", n, all[0]);
    return all[0] ? 1 : 0;
}
