/* The progress line (figkd/progress.h): at most 79 columns for the longest
 * numbers a run shows (5-digit steps, 3 loss terms, a 6-digit img/s, an
 * ETA over 10 h), spelled out when it fits, and compact numbers. */
#include "common.h"
#include "figkd/progress.h"

#include <stdlib.h>

static void check_line(const fk_progress *p, const char *must1, const char *must2)
{
    char line[FK_PROGRESS_COLUMNS + 1];
    size_t n = fk_progress_format(p, line, sizeof line);
    printf("%2zu |%s|\n", n, line);
    CHECK(n == strlen(line) && n <= 79, "%zu columns: %s", n, line);
    CHECK(!strchr(line, '\n') && !strchr(line, '\r'), "no line break: %s", line);
    CHECK(!must1 || strstr(line, must1), "has '%s': %s", must1, line);
    CHECK(!must2 || strstr(line, must2), "has '%s': %s", must2, line);
}

int main(void)
{
    char b[32];
    const struct {
        double v;
        const char *s;
    } nums[] = {{0, "0"}, {2.34567, "2.346"}, {12.3456, "12.35"}, {123.456, "123.5"}, {1234.56, "1235"},
                {99999.4, "99999"}, {123456, "1e+05"}, {0.00123, "0.0012"}, {0.0000123, "1e-05"}, {-2.5, "-2.500"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        fk_progress_number(nums[i].v, b, sizeof b);
        CHECK(!strcmp(b, nums[i].s), "%g -> '%s', expected '%s'", nums[i].v, b, nums[i].s);
        CHECK(strlen(b) <= 6 + (nums[i].v < 0), "%g -> '%s' is over 6 characters", nums[i].v, b);
    }
    for (double v = 1e-7; v < 1e7; v *= 1.37) {
        fk_progress_number(v, b, sizeof b);
        CHECK(strlen(b) <= 6, "%g -> '%s' is over 6 characters", v, b);
    }
    fk_progress_eta(45, b, sizeof b);
    CHECK(!strcmp(b, "45s"), "45 s: %s", b);
    fk_progress_eta(303, b, sizeof b);
    CHECK(!strcmp(b, "5m03s"), "303 s: %s", b);
    fk_progress_eta(10 * 3600 + 5 * 60 + 9, b, sizeof b);
    CHECK(!strcmp(b, "10h05m"), "10h05m09s: %s", b);
    fk_progress_eta(-1, b, sizeof b);
    CHECK(!strcmp(b, "?"), "unknown: %s", b);

    /* a small run: every word spelled out, as the e2e tests read it */
    fk_progress p = {"student", 1, 2, 1, 10, 3, {"loss", "ce", "kd"}, {3.5, 2.25, 1.25}, 250, 65};
    check_line(&p, "[student] epoch 1/2 step 1/10 loss 3.500 ce 2.250 kd 1.250", "250 img/s ETA 1m05s");
    /* CIFAR-100 with figkd: 240 epochs of 781 steps */
    fk_progress c = {"student", 240, 240, 781, 781, 3, {"loss", "ce", "figkd"}, {13.5791, 2.34567, 11.2345},
                     12345, 36000 + 300};
    check_line(&c, "240/240", "ETA 10h05m");
    check_line(&c, "figkd 11.23", "781/781");
    /* 5-digit steps, 3 terms, 6-digit img/s, ETA over 10 h */
    fk_progress l = {"student", 240, 240, 12345, 50000, 3, {"loss", "ce", "dkd"}, {123.456, 0.0012345, 99999},
                     123456, 123 * 3600.0 + 59 * 60};
    check_line(&l, "12345/50000", "ETA 123h");
    check_line(&l, "dkd 99999", "ce 0.0012");
    l.names[2] = "figkd";
    check_line(&l, "figkd 99999", "123456");
    l.epoch = l.epochs = 99999;
    l.values[0] = l.values[1] = l.values[2] = -123.456;
    check_line(&l, "ETA 123h", "99999/99999"); /* a term is left out before the ETA is cut */
    /* a label or names too long for any layout are cut, never wrapped */
    fk_progress w = {"a-very-long-stage-label-that-goes-on-and-on", 1, 1, 1, 1, 4,
                     {"first-term", "second-term", "third-term", "fourth-term"}, {1, 2, 3, 4}, 1, 1};
    check_line(&w, NULL, NULL);
    /* the teacher stage: CE alone */
    fk_progress t = {"teacher", 3, 240, 500, 781, 1, {"ce"}, {4.1}, 2500, 7200};
    check_line(&t, "[teacher] epoch 3/240  step 500/781  ce 4.100  2500 img/s  ETA 2h00m", NULL);
    if (fk_test_failures)
        fprintf(stderr, "%d checks failed\n", fk_test_failures);
    return fk_test_failures ? 1 : 0;
}
