/* figkd-cl data CONFIG [--grid out.png] [--batches N]: open both splits of the
 * [data] section, print what was found and the loader's throughput, and
 * optionally write a PNG grid of augmented training samples. */
#include "cli/args.h"
#include "figkd/check.h"
#include "figkd/config.h"
#include "figkd/data.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tile up to rows x cols de-normalised samples of the first batches. */
static fk_status write_grid(const char *path, fk_loader *l, const fk_data_config *c,
                            int rows, int cols)
{
    int S = c->input_size, gap = 2;
    int W = cols * (S + gap) + gap, H = rows * (S + gap) + gap;
    uint8_t *img = calloc((size_t)W * H * 3, 1);
    if (!img)
        return fk_error(FK_ERR_NOMEM, "out of host memory for the grid");
    float mean[3], sd[3];
    for (int k = 0; k < 3; k++) {
        mean[k] = c->n_mean == 3 ? c->mean[k] : c->mean[0];
        sd[k] = c->n_std == 3 ? c->std[k] : c->std[0];
    }
    int placed = 0;
    fk_status s = FK_OK;
    while (placed < rows * cols) {
        fk_batch b;
        s = fk_loader_next(l, &b);
        if (s != FK_OK)
            break;
        if (b.end_of_epoch)
            continue;
        for (int k = 0; k < b.count && placed < rows * cols; k++, placed++) {
            int oy = gap + (placed / cols) * (S + gap), ox = gap + (placed % cols) * (S + gap);
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    for (int ch = 0; ch < 3; ch++) {
                        int ci = b.c == 1 ? 0 : ch;
                        float v = b.images[(((size_t)k * b.c + ci) * S + y) * S + x];
                        float p = (v * sd[ci] + mean[ci]) * 255.0f + 0.5f;
                        img[((size_t)(oy + y) * W + ox + x) * 3 + ch] =
                            (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
                    }
        }
        fk_loader_release(l, &b);
    }
    if (s == FK_OK) {
        png_image pi;
        memset(&pi, 0, sizeof pi);
        pi.version = PNG_IMAGE_VERSION;
        pi.width = (png_uint_32)W;
        pi.height = (png_uint_32)H;
        pi.format = PNG_FORMAT_RGB;
        if (!png_image_write_to_file(&pi, path, 0, img, 0, NULL))
            s = fk_error(FK_ERR_IO, "%s: cannot write PNG: %s", path, pi.message);
        png_image_free(&pi);
    }
    free(img);
    return s;
}

/* A split opened (fk_check_data, in t_open seconds): its sizes, the
 * loader's throughput and the grid; ds is freed. */
static fk_status report_split(const fk_data_config *c, fk_dataset *ds, double t_open, int train, int batch,
                              long batches, const char *grid)
{
    fk_status s;
    double t0;
    const char *split = train ? "train" : "test";
    int h = fk_dataset_height(ds), w = fk_dataset_width(ds);
    int cout = c->channels ? c->channels : fk_dataset_channels(ds);
    if (train)
        printf("layout: %s in %s\n", fk_dataset_layout(ds), c->root);
    printf("%s: %ld images, %d classes, ", split, fk_dataset_count(ds), fk_dataset_classes(ds));
    if (h)
        printf("%dx%dx%d", h, w, fk_dataset_channels(ds));
    else
        printf("sizes vary, %d channels", fk_dataset_channels(ds));
    printf(" -> input %dx%dx%d (opened in %.2f s)\n", c->input_size, c->input_size, cout,
           t_open);
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = train;
    o.batch = batch;
    fk_loader *l;
    s = fk_loader_create(ds, c, &o, &l);
    if (s != FK_OK) {
        fk_dataset_free(ds);
        return s;
    }
    long n_img = 0, n_b = 0;
    t0 = fk_seconds();
    while (n_b < batches) {
        fk_batch b;
        s = fk_loader_next(l, &b);
        if (s != FK_OK)
            break;
        if (b.end_of_epoch) {
            if (!train)
                break; /* one pass over the test set is enough */
            continue;
        }
        n_img += b.count;
        n_b++;
        fk_loader_release(l, &b);
    }
    double dt = fk_seconds() - t0;
    fk_loader_free(l);
    if (s == FK_OK)
        printf("%s: loader %.0f img/s (%ld batches of %d, %d workers, augment %s)\n", split,
               dt > 0 ? (double)n_img / dt : 0.0, n_b, batch, c->workers,
               train && c->augment == FK_AUGMENT_STANDARD ? "standard" : "none");
    if (s == FK_OK && grid) {
        s = fk_loader_create(ds, c, &o, &l);
        if (s == FK_OK) {
            s = write_grid(grid, l, c, 8, 8);
            fk_loader_free(l);
            if (s == FK_OK)
                printf("wrote %s (8x8 augmented training samples)\n", grid);
        }
    }
    fk_dataset_free(ds);
    return s;
}

int fk_cmd_data(int argc, char **argv)
{
    const char *grid = NULL;
    long batches = 300;
    const arg_opt opts[] = {{"--grid", ARG_TEXT, &grid, false, NULL}, {"--batches", ARG_COUNT, &batches, false, NULL}};
    cli_args a = {.cmd = "data", .usage = "data CONFIG [--grid out.png] [--batches N] [--set section.key=value]",
                  .opts = opts, .n_opts = 2, .data_only = true, .keep_going = true};
    fk_config full;
    int rc = cli_start(&a, argc, argv, &full);
    if (rc >= 0)
        return rc;
    /* before work: the config, both splits, the grid's folder */
    int errors = full.errors;
    fk_dataset *train, *test;
    double open_s[2] = {0, 0};
    fk_check_data(&full, &train, &test, open_s, &errors);
    if (grid)
        fk_check_output("--grid", grid, &errors);
    fk_data_config cfg = full.data;
    int batch = full.optim.batch_size;
    fk_config_free(&full);
    if (errors) {
        fk_dataset_free(train);
        fk_dataset_free(test);
        return cli_errors(&a, errors);
    }
    printf("dataset %s, root %s\n", fk_dataset_name(cfg.dataset), cfg.root);
    int nm = cfg.n_mean, ns = cfg.n_std;
    printf("mean %.4f%s", cfg.mean[0], nm == 3 ? "," : "");
    if (nm == 3)
        printf(" %.4f, %.4f", cfg.mean[1], cfg.mean[2]);
    printf("  std %.4f%s", cfg.std[0], ns == 3 ? "," : "");
    if (ns == 3)
        printf(" %.4f, %.4f", cfg.std[1], cfg.std[2]);
    printf("\n");
    fk_status st = report_split(&cfg, train, open_s[0], 1, batch, batches, grid);
    if (st == FK_OK)
        return report_split(&cfg, test, open_s[1], 0, batch, batches, NULL) != FK_OK;
    fk_dataset_free(test);
    return 1;
}
