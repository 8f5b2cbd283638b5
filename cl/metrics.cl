/* Metrics accumulated on the device, read back every few steps. */

/* 1 when every logit of the row z (c values) is finite. */
static int row_finite(__global const float *z, const int c)
{
    int ok = 1;
    for (int j = 0; j < c; j++)
        ok &= isfinite(z[j]) ? 1 : 0;
    return ok;
}

/* Top-1 and top-5 hits of n rows of logits (N, C): the rank of the label's
 * logit is the number of classes scoring higher, ties going to the lower
 * index. A row holding NaN or Inf never counts as a hit. Adds the counts
 * into acc[acc_off] and acc[acc_off + 1]. One work-item: n * c is small next
 * to the step around it. */
__kernel void topk_hits(__global const float *logits, const ulong off, const int n, const int c,
                        __global const int *labels, const ulong labels_off,
                        __global float *acc, const ulong acc_off)
{
    if (get_global_id(0) != 0)
        return;
    int top1 = 0, top5 = 0;
    for (int i = 0; i < n; i++) {
        __global const float *z = logits + off + (ulong)i * (ulong)c;
        int y = labels[labels_off + i];
        if (y < 0 || y >= c || !row_finite(z, c))
            continue;
        float zy = z[y];
        int rank = 0;
        for (int j = 0; j < c; j++)
            rank += (z[j] > zy) || (z[j] == zy && j < y);
        top1 += rank == 0;
        top5 += rank < 5;
    }
    acc[acc_off] += (float)top1;
    acc[acc_off + 1] += (float)top5;
}

/* Rows of logits (N, C) holding a NaN or an Inf: adds their count into
 * acc[acc_off]. One work-item, as topk_hits. */
__kernel void nonfinite_rows(__global const float *logits, const ulong off, const int n,
                             const int c, __global float *acc, const ulong acc_off)
{
    if (get_global_id(0) != 0)
        return;
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += !row_finite(logits + off + (ulong)i * (ulong)c, c);
    acc[acc_off] += (float)bad;
}
