/* DIST (Huang et al. 2022, "Knowledge Distillation from A Stronger Teacher"),
 * as the authors' dist_kd.py: with p = softmax(s / T), q = softmax(t / T)
 * over the classes of each row of (N, C) logits,
 *   inter = 1 - mean over rows i of pearson(p[i, :], q[i, :]),
 *   intra = 1 - mean over columns j of pearson(p[:, j], q[:, j]),
 *   loss  = T^2 * (beta * inter + gamma * intra),
 * pearson(x, y) = <x', y'> / (|x'| |y'| + 1e-8) with x' = x - mean(x).
 * (src/loss/dist.c launches these in order on the in-order queue.)
 *
 * Work layout (floats): P (N, C) | Q (N, C) | G (N, C) | terms (N + C).
 * P, Q are the softmaxes, G = d loss / d P (before the weight), terms the
 * per-row and per-column parts of the value, summed in a fixed order by
 * cl/loss.cl loss_mean. One work-item per row or per column walks its
 * vector serially: no local memory, no barriers, no atomics, so every run
 * gives the same bits. Column kernels read P[i * C + j] for consecutive j
 * in neighbouring work-items (coalesced on GPUs); the row kernels are not
 * (N work-items, each walking C floats: tiny next to the model's layers).
 *
 * Gradient of r = A / D, A = <x', y'>, D = |x'| |y'| + eps, with respect
 * to x': y' / D - (r / |x'|) (|y'| / D) x' (0 for the second term when
 * |x'| = 0, as torch's norm backward). Taking it through the centring
 * subtracts its mean, which is 0 because y' and x' each sum to 0; it is
 * left out. Centring subtracts the first element before the mean
 * (x' = (x - x0) - mean(x - x0)) so that a constant vector centres to
 * exact zeros: then |y'| = 0 and only eps is left in D, where a rounding
 * residue of 1e-9 would otherwise be amplified by 1 / eps. */

#define DIST_EPS 1e-8f

enum { DIST_NO_GRAD, DIST_SET_GRAD, DIST_ADD_GRAD };

/* Pearson correlation r of the n-vectors x and y (element k at k * stride).
 * Unless mode is DIST_NO_GRAD, g[k * stride] is set to (DIST_SET_GRAD) or
 * increased by (DIST_ADD_GRAD) g_scale * d r / d x[k]. */
static float dist_pearson(__global const float *x, __global const float *y, const int n,
                          const int stride, __global float *g, const float g_scale, const int mode)
{
    const float x0 = x[0], y0 = y[0];
    float mx = 0.0f, my = 0.0f;
    for (int k = 0; k < n; k++) {
        mx += x[(ulong)k * stride] - x0;
        my += y[(ulong)k * stride] - y0;
    }
    mx /= (float)n;
    my /= (float)n;
    float a = 0.0f, xx = 0.0f, yy = 0.0f;
    for (int k = 0; k < n; k++) {
        const float cx = (x[(ulong)k * stride] - x0) - mx, cy = (y[(ulong)k * stride] - y0) - my;
        a += cx * cy;
        xx += cx * cx;
        yy += cy * cy;
    }
    const float nx = sqrt(xx), ny = sqrt(yy), d = nx * ny + DIST_EPS, r = a / d;
    if (mode == DIST_NO_GRAD)
        return r;
    const float inv_d = 1.0f / d, u = nx > 0.0f ? (r / nx) * (ny / d) : 0.0f;
    for (int k = 0; k < n; k++) {
        const float cx = (x[(ulong)k * stride] - x0) - mx, cy = (y[(ulong)k * stride] - y0) - my;
        const float gk = g_scale * (cy * inv_d - u * cx);
        if (mode == DIST_SET_GRAD)
            g[(ulong)k * stride] = gk;
        else
            g[(ulong)k * stride] += gk;
    }
    return r;
}

/* One work-item per row i: P[i, :] = softmax(s[i, :] / T), Q[i, :] likewise
 * from t; terms[i] = term_scale * (1 - r_i) with r_i the row's Pearson
 * correlation; with has_grad G[i, :] = grad_scale * d r_i / d P[i, :]. */
__kernel void dist_rows(__global const float *s, const ulong s_off, __global const float *t,
                        const ulong t_off, __global float *work, const ulong work_off, const int N,
                        const int C, const float T, const float term_scale, const float grad_scale,
                        const int has_grad)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    const ulong nc = (ulong)N * (ulong)C, row = (ulong)i * (ulong)C;
    __global const float *srow = s + s_off + row, *trow = t + t_off + row;
    __global float *prow = work + work_off + row, *qrow = prow + nc, *grow = qrow + nc;
    __global float *terms = work + work_off + 3 * nc;

    float ms = -INFINITY, mt = -INFINITY;
    for (int j = 0; j < C; j++) {
        ms = fmax(ms, srow[j] / T);
        mt = fmax(mt, trow[j] / T);
    }
    float zs = 0.0f, zt = 0.0f;
    for (int j = 0; j < C; j++) {
        const float es = exp(srow[j] / T - ms), et = exp(trow[j] / T - mt);
        prow[j] = es;
        qrow[j] = et;
        zs += es;
        zt += et;
    }
    for (int j = 0; j < C; j++) {
        prow[j] /= zs;
        qrow[j] /= zt;
    }

    const float r = dist_pearson(prow, qrow, C, 1, grow, grad_scale, has_grad ? DIST_SET_GRAD : DIST_NO_GRAD);
    terms[i] = term_scale * (1.0f - r);
}

/* One work-item per column j: terms[N + j] = term_scale * (1 - r_j) with r_j
 * the Pearson correlation of P[:, j] and Q[:, j]; with has_grad
 * G[:, j] += grad_scale * d r_j / d P[:, j]. Runs after dist_rows. */
__kernel void dist_cols(__global float *work, const ulong work_off, const int N, const int C,
                        const float term_scale, const float grad_scale, const int has_grad)
{
    const int j = (int)get_global_id(0);
    if (j >= C)
        return;
    const ulong nc = (ulong)N * (ulong)C;
    __global const float *pcol = work + work_off + j, *qcol = pcol + nc;
    __global float *gcol = work + work_off + 2 * nc + j;
    __global float *terms = work + work_off + 3 * nc;

    const float r = dist_pearson(pcol, qcol, N, C, gcol, grad_scale, has_grad ? DIST_ADD_GRAD : DIST_NO_GRAD);
    terms[N + j] = term_scale * (1.0f - r);
}

/* One work-item per row i: the softmax backward of G into the logits,
 * ds[i, j] += gscale * P[i, j] * (G[i, j] - <P[i, :], G[i, :]>), with
 * gscale = weight / T. Runs after dist_cols. */
__kernel void dist_backward(__global const float *work, const ulong work_off, __global float *ds,
                            const ulong ds_off, const int N, const int C, const float gscale)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    const ulong nc = (ulong)N * (ulong)C, row = (ulong)i * (ulong)C;
    __global const float *prow = work + work_off + row, *grow = prow + 2 * nc;
    __global float *drow = ds + ds_off + row;
    float dot = 0.0f;
    for (int j = 0; j < C; j++)
        dot += prow[j] * grow[j];
    for (int j = 0; j < C; j++)
        drow[j] += gscale * prow[j] * (grow[j] - dot);
}
