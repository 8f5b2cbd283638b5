/* fk_figkd_grid: h = the largest divisor of C with h <= sqrt(C), w = C / h
 * (docs/design.md, "FiGKD loss"), for the class counts users train with and a sweep
 * checked against the definition. */
#include "common.h"

#include "figkd/loss.h"

int main(void)
{
    static const int table[][3] = {
        {10, 2, 5}, {40, 5, 8}, {67, 1, 67}, {100, 10, 10}, {120, 10, 12}, {200, 10, 20},
        {1, 1, 1}, {2, 1, 2}, {4, 2, 2}, {1000, 25, 40}, {101, 1, 101}, {64, 8, 8},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        int h = -1, w = -1;
        fk_figkd_grid(table[i][0], &h, &w);
        CHECK(h == table[i][1] && w == table[i][2], "C = %d: %dx%d, expected %dx%d", table[i][0], h, w,
              table[i][1], table[i][2]);
    }
    for (int c = 1; c <= 5000; c++) {
        int h, w, best = 1;
        fk_figkd_grid(c, &h, &w);
        for (int d = 1; d * d <= c; d++)
            if (c % d == 0)
                best = d;
        CHECK(h == best && h * w == c && h <= w, "C = %d: %dx%d", c, h, w);
    }
    int h = 7, w = 7;
    fk_figkd_grid(0, &h, &w);
    CHECK(h == 0 && w == 0, "C = 0: %dx%d", h, w);
    return fk_test_result("test_figkd_grid");
}
