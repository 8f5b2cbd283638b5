/* What a stage writes as it goes: one metrics.jsonl line per epoch, whose
 * columns are ce and the method's term (its row's name for it). */
#include "train/stage.h"

#include <errno.h>
#include <string.h>

void fk_format_eta(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e8 ? (long)s : 0;
    snprintf(buf, n, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
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
