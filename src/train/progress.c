/* What a stage writes as it goes: one metrics.jsonl line per epoch, whose
 * columns are ce and the method's term (its row's name for it), and the
 * progress line (figkd/progress.h). */
#include "figkd/progress.h"
#include "train/stage.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

void fk_progress_number(double v, char *buf, size_t n)
{
    double a = fabs(v);
    if (!isfinite(v))
        snprintf(buf, n, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (a == 0)
        snprintf(buf, n, "0");
    else if (a < 0.001 || a >= 99999.5)
        snprintf(buf, n, "%.0e", v);
    else if (a < 0.00995)
        snprintf(buf, n, "%.4f", v);
    else if (a < 9.9995)
        snprintf(buf, n, "%.3f", v);
    else if (a < 99.995)
        snprintf(buf, n, "%.2f", v);
    else if (a < 999.95)
        snprintf(buf, n, "%.1f", v);
    else
        snprintf(buf, n, "%.0f", v);
}

void fk_progress_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 3.6e8)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%lds", (long)s);
    else if (s < 3600)
        snprintf(buf, n, "%ldm%02lds", (long)s / 60, (long)s % 60);
    else if (s < 100 * 3600.0)
        snprintf(buf, n, "%ldh%02ldm", (long)s / 3600, (long)s / 60 % 60);
    else
        snprintf(buf, n, "%ldh", (long)s / 3600);
}

/* The layouts, most spelled-out first: words, group spacing, brackets, unit. */
static const struct layout {
    bool words, wide, brackets, unit;
} LAYOUTS[] = {
    {true, true, true, true},    /* [student] epoch 2/240  step 10/781  loss ..  1234 img/s  ETA 5h02m */
    {true, false, true, true},   /* [student] epoch 2/240 step 10/781 loss .. 1234 img/s ETA 5h02m */
    {false, false, true, true},  /* [student] 2/240 10/781 loss .. 1234 img/s ETA 5h02m */
    {false, false, false, true}, /* student 2/240 10/781 loss .. 1234 img/s ETA 5h02m */
    {false, false, false, false},/* student 2/240 10/781 loss .. 1234/s ETA 5h02m */
};

/* Append to buf (n bytes) at *len; *len counts what did not fit too. */
static void add(char *buf, size_t n, size_t *len, const char *fmt, ...) FK_PRINTF(4, 5);
static void add(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf + (*len < n ? *len : n - 1), *len < n ? n - *len : 1, fmt, ap);
    va_end(ap);
    *len += r > 0 ? (size_t)r : 0;
}

static size_t render(const fk_progress *p, const struct layout *y, char *buf, size_t n)
{
    const char *gap = y->wide ? "  " : " ";
    size_t len = 0;
#define ADD(...) add(buf, n, &len, __VA_ARGS__)
    ADD(y->brackets ? "[%s]" : "%s", p->label);
    ADD(" %s%ld/%ld", y->words ? "epoch " : "", p->epoch, p->epochs);
    ADD("%s%s%ld/%ld", gap, y->words ? "step " : "", p->step, p->steps);
    for (int i = 0; i < p->n_terms && i < FK_PROGRESS_TERMS; i++) {
        char v[32];
        fk_progress_number(p->values[i], v, sizeof v);
        ADD("%s%s %s", i ? " " : gap, p->names[i], v);
    }
    char eta[32];
    fk_progress_eta(p->eta, eta, sizeof eta);
    ADD("%s%.0f%s%sETA %s", gap, p->rate >= 0 && p->rate < 1e9 ? p->rate : 0.0, y->unit ? " img/s" : "/s", gap,
        eta);
#undef ADD
    return len;
}

size_t fk_progress_format(const fk_progress *p, char *buf, size_t n)
{
    size_t len = 0, max = n - 1 < FK_PROGRESS_COLUMNS ? n - 1 : FK_PROGRESS_COLUMNS;
    for (size_t i = 0; i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
        if ((len = render(p, &LAYOUTS[i], buf, n)) <= max)
            return len;
    /* then fewer terms (the last ones first) in the tersest layout, and
     * last, for a label or term names too long for any of these, a cut */
    fk_progress q = *p;
    const struct layout *terse = &LAYOUTS[sizeof LAYOUTS / sizeof LAYOUTS[0] - 1];
    while (q.n_terms > 0)
        if (q.n_terms--, (len = render(&q, terse, buf, n)) <= max)
            return len;
    buf[max] = '\0';
    return max;
}

fk_status fk_metrics_write(FILE *f, const char *path, const stage *S, const fk_epoch_line *l)
{
    const float *acc = l->acc;
    long spe = l->steps_per_epoch;
    double loss = S->loss.ce_weight * acc[FK_ACC_CE] + fk_method_term_scale(&S->loss, l->epoch - 1) * acc[FK_ACC_TERM];
    fprintf(f,
            "{\"stage\": \"%s\", \"epoch\": %ld, \"step\": %ld, \"lr\": %.9g, \"loss\": %.6f, \"ce\": %.6f, "
            "\"%s\": %.6f, \"train_acc\": %.6f",
            S->label, l->epoch, l->step, l->lr, loss / spe, acc[FK_ACC_CE] / spe, S->loss.method->term,
            acc[FK_ACC_TERM] / spe, acc[FK_ACC_TOP1] / l->images);
    if (l->top1 >= 0)
        fprintf(f, ", \"test_acc\": %.6f, \"test_acc5\": %.6f, \"test_loss\": %.6f", l->top1, l->top5, l->test_loss);
    fprintf(f, ", \"img_per_s\": %.1f, \"seconds\": %.2f}\n", l->images_run / (l->seconds > 0 ? l->seconds : 1),
            l->seconds);
    if (fflush(f) != 0 || ferror(f))
        return fk_error(FK_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return FK_OK;
}
