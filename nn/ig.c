/*
 * ig: integrated gradients of one output logit for one row (see ig.h for the maths).
 *
 * Why this shape: the first layer is the only one that sees the (possibly 2^18-wide, sparse)
 * input, and it is linear, so the whole path lives in its w pre-activations:
 * Z_0(a) = p0 + a * dz with p0 = b_0 + base W_0 and dz = (x - base) W_0. The gradient with
 * respect to Z_0 at each grid point comes from nn_net_tail_grad (the net's own kernels), the
 * weighted mean over the grid is gbar, and attr_j = (x_j - base_j) * (W_0[j] . gbar): the
 * input side costs two passes over the row's weights, whatever the number of steps. The sum
 * of the attributions is dz . gbar, so completeness is checked without touching the input.
 * One ReLU hidden layer has a closed form: each unit's gradient is constant where it is
 * active, so the integral is the weight times the active fraction of the path (relu_gbar).
 * Grid (every other net): composite midpoint rule, first over k/8 (over [0, 1] alone when the net
 * is piecewise linear along the path: no hidden layer, or one ReLU hidden layer) plus, for a ReLU /
 * leaky ReLU first hidden layer, the points where one of its units changes sign (a = -p0_u / dz_u:
 * between them a one-hidden-layer ReLU net is linear along the path, and the rule exact). While
 * completeness fails, segments are split where the rule is worst: tail_grad gives the logit at each
 * point too, so the error between two neighbouring points is known exactly, and for
 * piecewise-linear nets the slopes and the rise locate the kink between them (see refine). At most
 * max_steps segments; each split costs two gradient evaluations. Arithmetic on the path is in
 * double.
 */
#include "nn/ig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"

#define CHUNK     64 /* grid points per nn_net_tail_grad call */
#define FIRST_MIN 8  /* the first grid of a net with hidden layers */
#define ROUND     16 /* segments split per refinement round */
#define FIRST_TRY 48 /* the first try's budget of steps (see nn_ig_row) */

void nn_ig_opts_default(struct nn_ig_opts *o)
{
    o->tol = NN_IG_TOL;
    o->max_steps = NN_IG_MAX_STEPS;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The scratch of one call; one block (nn_malloc'd), carved. Segment i of the grid is
 * [sa[i], sb[i]], its midpoint's gradient d logit / d Z_0 is row i of G and its directional
 * derivative d logit / d a = dz . G_i is ss[i]. */
struct ig_ws {
    double *p0, *dz, *gbar, *kinks, *sa, *sb, *ss, *fm, *err;
    double f0, s0, f1, s1; /* logit and d logit / d a at a = 0 and a = 1 */
    int *prev, *next, *todo;
    float *G, *z, *logit, *work;
};

static void *ws_open(const struct nn_net *net, int max_steps, struct ig_ws *ws)
{
    size_t w = (size_t)net->layers[0].out, ms = (size_t)max_steps;
    size_t nd = 4 * w + 5 * ms + 1, ni = 3 * ms;
    size_t nf = ms * w + CHUNK * w + CHUNK + nn_net_tail_len(net, CHUNK);
    double *blk = nn_malloc(nd * sizeof(double) + ni * sizeof(int) + nf * sizeof(float));

    if (blk == NULL) {
        return NULL;
    }
    ws->p0 = blk;
    ws->dz = ws->p0 + w;
    ws->gbar = ws->dz + w;
    ws->kinks = ws->gbar + w;
    ws->sa = ws->kinks + w;
    ws->sb = ws->sa + ms;
    ws->ss = ws->sb + ms;
    ws->fm = ws->ss + ms;
    ws->err = ws->fm + ms;
    ws->prev = (int *)(void *)(ws->err + ms + 1);
    ws->next = ws->prev + ms;
    ws->todo = ws->next + ms;
    ws->G = (float *)(void *)(ws->todo + ms);
    ws->z = ws->G + ms * w;
    ws->logit = ws->z + CHUNK * w;
    ws->work = ws->logit + CHUNK;
    return blk;
}

/* Evaluates the gradient at the midpoints of segments todo[0..n): rows of G and ss. */
static void evaluate(const struct nn_net *net, struct ig_ws *ws, int n, int unit)
{
    size_t w = (size_t)net->layers[0].out, o;
    int i0, r;

    for (i0 = 0; i0 < n; i0 += CHUNK) {
        int k = n - i0 < CHUNK ? n - i0 : CHUNK;

        for (r = 0; r < k; r++) {
            int s = ws->todo[i0 + r];
            double mid = 0.5 * (ws->sa[s] + ws->sb[s]);
            float *z = ws->z + (size_t)r * w;

            for (o = 0; o < w; o++) {
                z[o] = (float)(ws->p0[o] + mid * ws->dz[o]);
            }
        }
        nn_net_tail_grad(net, ws->z, k, unit, ws->logit, ws->work);
        for (r = 0; r < k; r++) {
            int s = ws->todo[i0 + r];
            double d = 0.0;

            memcpy(ws->G + (size_t)s * w, ws->z + (size_t)r * w, w * sizeof(float));
            for (o = 0; o < w; o++) {
                d += ws->dz[o] * (double)ws->z[(size_t)r * w + o];
            }
            ws->ss[s] = d;
            ws->fm[s] = ws->logit[r];
        }
    }
}

/* The initial grid: k/m for k = 0..m plus the nk kinks, as segments 0..S-1 in order
 * (linked by prev/next); evaluates them. @return S. */
static int grid_init(const struct nn_net *net, struct ig_ws *ws, int m, size_t nk, int unit)
{
    double *pts = ws->err; /* free until refinement; holds m + 1 + nk <= max_steps + 1 */
    size_t np = 0, i;
    int n = 0;

    for (i = 0; i <= (size_t)m; i++) {
        pts[np++] = (double)i / (double)m;
    }
    memcpy(pts + np, ws->kinks, nk * sizeof(double));
    np += nk;
    qsort(pts, np, sizeof(double), cmp_double);
    for (i = 0; i + 1 < np; i++) {
        if (pts[i + 1] > pts[i]) {
            ws->sa[n] = pts[i];
            ws->sb[n] = pts[i + 1];
            ws->todo[n] = n;
            n++;
        }
    }
    for (int k = 0; k < n; k++) {
        ws->prev[k] = k - 1;
        ws->next[k] = k + 1 < n ? k + 1 : -1;
    }
    evaluate(net, ws, n, unit);
    return n;
}

/* Splits segment x at c (a_x < c < b_x): x keeps [a_x, c], segment n is [c, b_x]; both are
 * queued for evaluation at todo[t], todo[t + 1]. */
static void split(struct ig_ws *ws, int x, double c, int n, int t)
{
    ws->sa[n] = c;
    ws->sb[n] = ws->sb[x];
    ws->sb[x] = c;
    ws->prev[n] = x;
    ws->next[n] = ws->next[x];
    if (ws->next[x] >= 0) {
        ws->prev[ws->next[x]] = n;
    }
    ws->next[x] = n;
    ws->err[n] = 0.0;
    ws->todo[t] = x;
    ws->todo[t + 1] = n;
}

/* Whether segment s (>= 0) is among the first t of todo: split this round. */
static int in_todo(const struct ig_ws *ws, int t, int s)
{
    int i;

    for (i = 0; s >= 0 && i < t; i++) {
        if (ws->todo[i] == s) {
            return 1;
        }
    }
    return 0;
}

/*
 * One refinement round. Between two neighbouring evaluated points (midpoints, or the ends of
 * the path) the logit is known at both, so the quadrature's error there is known exactly:
 * |F(q) - F(p) - the integral the segments give over [p, q]|. The `r` worst gaps have their
 * segment split: at the kink the two slopes and the rise imply (a ReLU net is linear between
 * kinks, so one kink is then found in one split), else in the middle of the longer segment.
 * @return the new number of segments.
 */
static int refine(const struct nn_net *net, struct ig_ws *ws, int n, int r, int unit)
{
    int i, k, t = 0, last = 0;

    /* err[i]: the gap left of segment i's midpoint; the gap right of the last one is err of
     * the virtual index n (room for it: err has max_steps + 1 entries) */
    for (i = 0; i < n; i++) {
        double mi = 0.5 * (ws->sa[i] + ws->sb[i]), q;
        int p = ws->prev[i];

        if (p < 0) {
            q = ws->ss[i] * mi;
            ws->err[i] = fabs(ws->fm[i] - ws->f0 - q);
        } else {
            double mp = 0.5 * (ws->sa[p] + ws->sb[p]);

            q = ws->ss[p] * (ws->sb[p] - mp) + ws->ss[i] * (mi - ws->sa[i]);
            ws->err[i] = fabs(ws->fm[i] - ws->fm[p] - q);
        }
        if (ws->next[i] < 0) {
            last = i;
            ws->err[n] = fabs(ws->f1 - ws->fm[i] - ws->ss[i] * (1.0 - mi));
        }
    }
    for (k = 0; k < r; k++) {
        int best = -1, x, p, q;
        double mp, mq, sp, sq, fp, fq, c = -1.0, end_gap;

        for (i = 0; i <= n; i++) {
            if (ws->err[i] > 0.0 && (best < 0 || ws->err[i] > ws->err[best])) {
                best = i;
            }
        }
        if (best < 0) {
            break;
        }
        ws->err[best] = 0.0;
        /* the gap's left point p and right point q (-1: the start, -2: the end) */
        p = best == n ? last : ws->prev[best];
        q = best == n ? -2 : best;
        /* a point split this round is not evaluated yet: the gap waits for the next round */
        if (in_todo(ws, t, p) || in_todo(ws, t, q)) {
            continue;
        }
        mp = p < 0 ? 0.0 : 0.5 * (ws->sa[p] + ws->sb[p]);
        sp = p < 0 ? ws->s0 : ws->ss[p];
        fp = p < 0 ? ws->f0 : ws->fm[p];
        mq = q < 0 ? 1.0 : 0.5 * (ws->sa[q] + ws->sb[q]);
        sq = q < 0 ? ws->s1 : ws->ss[q];
        fq = q < 0 ? ws->f1 : ws->fm[q];
        if (sp != sq) {
            c = mp + (fq - fp - sq * (mq - mp)) / (sp - sq);
        }
        if (!(c > mp && c < mq)) {
            c = -1.0;
        }
        /* the segment holding c, or the longer one next to the gap */
        if (p < 0) {
            x = q;
        } else if (q < 0) {
            x = p;
        } else if (c >= 0.0) {
            x = c < ws->sb[p] ? p : q;
        } else {
            x = ws->sb[p] - ws->sa[p] >= ws->sb[q] - ws->sa[q] ? p : q;
        }
        if (!(c > ws->sa[x] && c < ws->sb[x])) {
            c = 0.5 * (ws->sa[x] + ws->sb[x]);
        }
        if (!(c > ws->sa[x] && c < ws->sb[x])) {
            continue; /* no room left in double precision */
        }
        if (in_todo(ws, t, x)) {
            continue; /* a segment split once this round is not split again (its midpoint moved) */
        }
        /* the new segment takes index n, so the gap right of the last point (the virtual
         * index) moves up one: carry its value, or it would be read uninitialised */
        end_gap = ws->err[n];
        split(ws, x, c, n, t);
        if (x == last) {
            last = n;
        }
        t += 2;
        n++;
        ws->err[n] = end_gap;
    }
    evaluate(net, ws, t, unit);
    return n;
}

/* gbar = sum over segments of length x gradient; returns dz . gbar (the attributions' sum). */
static double integrate(const struct nn_net *net, struct ig_ws *ws, int n)
{
    size_t w = (size_t)net->layers[0].out, o;
    double sum = 0.0;
    int i;

    memset(ws->gbar, 0, w * sizeof(double));
    for (i = 0; i < n; i++) {
        const float *g = ws->G + (size_t)i * w;
        double len = ws->sb[i] - ws->sa[i];

        for (o = 0; o < w; o++) {
            ws->gbar[o] += len * (double)g[o];
        }
        sum += len * ws->ss[i];
    }
    return sum;
}

/* y += a * x over n values, x float, y double; in blocks of 4 so that -O2 vectorises it. */
static void axpy_d(double *restrict y, double a, const float *restrict x, size_t n)
{
    size_t i = 0, k;

    for (; i + 4 <= n; i += 4) {
        for (k = 0; k < 4; k++) {
            y[i + k] += a * (double)x[i + k];
        }
    }
    for (; i < n; i++) {
        y[i] += a * (double)x[i];
    }
}

/* x . y over n values, x float, y double, in double; blocks of 4 as axpy_d. */
static double dot_d(const float *restrict x, const double *restrict y, size_t n)
{
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0, k;

    for (; i + 4 <= n; i += 4) {
        for (k = 0; k < 4; k++) {
            acc[k] += (double)x[i + k] * y[i + k];
        }
    }
    for (; i < n; i++) {
        acc[0] += (double)x[i] * y[i];
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/*
 * One ReLU hidden layer, exactly: along the path unit u is active (p0_u + a dz_u > 0) on a
 * fraction f_u of [0, 1], found from its one crossing, and the logit is linear in its
 * activation with weight v_u = W_1[u][unit]; so gbar_u = v_u f_u, with no grid. Fills gbar;
 * @return dz . gbar, the attributions' sum.
 */
static double relu_gbar(const struct nn_net *net, struct ig_ws *ws, int unit)
{
    const struct nn_layer *l1 = &net->layers[1];
    const float *W1 = net->params + l1->w;
    size_t w = (size_t)net->layers[0].out, u;
    double sum = 0.0;

    for (u = 0; u < w; u++) {
        double p = ws->p0[u], d = ws->dz[u], f;

        if (d == 0.0) {
            f = p > 0.0 ? 1.0 : 0.0;
        } else {
            double a = -p / d; /* the crossing */

            a = a < 0.0 ? 0.0 : (a > 1.0 ? 1.0 : a);
            f = d > 0.0 ? 1.0 - a : a;
        }
        ws->gbar[u] = (double)W1[u * (size_t)l1->out + (size_t)unit] * f;
        sum += d * ws->gbar[u];
    }
    return sum;
}

/* Whether sum matches diff within the tolerance. */
static int complete(double sum, double diff, double tol)
{
    double scale = fabs(diff) > NN_IG_FLOOR ? fabs(diff) : NN_IG_FLOOR;

    return fabs(sum - diff) <= tol * scale;
}

/* nn_ig_row with the options checked and o->max_steps as the budget. */
static int ig_try(const struct nn_net *net, const float *base, const float *x, const int32_t *ind,
                  const float *val, size_t nnz, int unit, const struct nn_ig_opts *o,
                  double *attr_dense, double *attr_sparse, struct nn_ig_result *res,
                  struct nn_err *err)
{
    const struct nn_layer *l0 = &net->layers[0];
    const float *W = net->params + l0->w, *b0 = net->params + l0->b;
    const float *Ws = W + (size_t)net->dense_in * (size_t)l0->out;
    size_t w = (size_t)l0->out, nk = 0, e, u;
    struct ig_ws ws;
    double diff, sum, dot;
    void *blk;
    int j, m, steps, use_kinks, piecewise, L = net->n_layers;

    blk = ws_open(net, o->max_steps, &ws);
    if (blk == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory explaining a row");
    }
    /* p0 = b_0 + base W_0, dz = (x - base) W_0 (+ the sparse entries: their baseline is 0),
     * in double: completeness is judged to 1e-3 of differences that may be small */
    for (u = 0; u < w; u++) {
        ws.p0[u] = b0[u];
        ws.dz[u] = 0.0;
    }
    for (j = 0; j < net->dense_in; j++) {
        const float *Wj = W + (size_t)j * w;

        axpy_d(ws.p0, base[j], Wj, w);
        axpy_d(ws.dz, (double)x[j] - (double)base[j], Wj, w);
    }
    for (e = 0; e < nnz; e++) {
        if (ind[e] >= 0 && ind[e] < net->sparse_in) {
            axpy_d(ws.dz, val[e], Ws + (size_t)ind[e] * w, w);
        }
    }
    /* the logits at both ends */
    for (u = 0; u < w; u++) {
        ws.z[u] = (float)ws.p0[u];
        ws.z[w + u] = (float)(ws.p0[u] + ws.dz[u]);
    }
    nn_net_tail_grad(net, ws.z, 2, unit, ws.logit, ws.work);
    ws.f0 = res->base = ws.logit[0];
    ws.f1 = res->out = ws.logit[1];
    ws.s0 = ws.s1 = 0.0;
    for (u = 0; u < w; u++) {
        ws.s0 += ws.dz[u] * (double)ws.z[u];
        ws.s1 += ws.dz[u] * (double)ws.z[w + u];
    }
    diff = res->out - res->base;
    /* where the first hidden layer's ReLUs switch on the path */
    if (L > 1 && (l0->act == NN_ACT_RELU || l0->act == NN_ACT_LEAKY_RELU)) {
        for (u = 0; u < w; u++) {
            double a = ws.dz[u] != 0.0 ? -ws.p0[u] / ws.dz[u] : -1.0;

            if (a > 0.0 && a < 1.0) {
                ws.kinks[nk++] = a;
            }
        }
    }
    /* one ReLU hidden layer: the integral has a closed form (relu_gbar), no grid at all */
    if (L == 2 && l0->act == NN_ACT_RELU) {
        sum = relu_gbar(net, &ws, unit);
        steps = (int)nk + 1;
        if (complete(sum, diff, o->tol)) {
            goto attribute;
        }
    }
    /* no hidden layer, or one ReLU hidden layer whose kinks all fit: the logit is linear
     * between the kinks, so the kinks alone make the rule exact */
    piecewise = L == 1 || (L == 2 && (l0->act == NN_ACT_RELU || l0->act == NN_ACT_LEAKY_RELU) &&
                           nk + 1 <= (size_t)o->max_steps);
    m = piecewise ? 1 : (FIRST_MIN < o->max_steps ? FIRST_MIN : o->max_steps);
    use_kinks = nk > 0 && (size_t)m + nk <= (size_t)o->max_steps;
    steps = grid_init(net, &ws, m, use_kinks ? nk : 0, unit);
    for (;;) {
        int r = o->max_steps - steps; /* each split adds one segment */

        sum = integrate(net, &ws, steps);
        if (complete(sum, diff, o->tol) || r < 1) {
            break;
        }
        r = r < ROUND ? r : ROUND;
        r = refine(net, &ws, steps, r, unit);
        if (r == steps) {
            break; /* nothing left to split: the integrand is flat between the points */
        }
        steps = r;
    }
attribute:
    /* attr_j = (x_j - base_j) * (W_0[j] . gbar) */
    sum = 0.0;
    for (j = 0; j < net->dense_in; j++) {
        dot = dot_d(W + (size_t)j * w, ws.gbar, w);
        attr_dense[j] = ((double)x[j] - (double)base[j]) * dot;
        sum += attr_dense[j];
    }
    for (e = 0; e < nnz; e++) {
        attr_sparse[e] = 0.0;
        if (ind[e] >= 0 && ind[e] < net->sparse_in) {
            dot = dot_d(Ws + (size_t)ind[e] * w, ws.gbar, w);
            attr_sparse[e] = (double)val[e] * dot;
            sum += attr_sparse[e];
        }
    }
    res->sum = sum;
    res->steps = steps;
    res->converged = complete(sum, diff, o->tol);
    nn_free(blk);
    return 0;
}

int nn_ig_row(const struct nn_net *net, const float *base, const float *x, const int32_t *ind,
              const float *val, size_t nnz, int unit, const struct nn_ig_opts *o,
              double *attr_dense, double *attr_sparse, struct nn_ig_result *res, struct nn_err *err)
{
    struct nn_ig_opts def, small;
    int rc;

    if (o == NULL) {
        nn_ig_opts_default(&def);
        o = &def;
    }
    if (unit < 0 || unit >= nn_net_outputs(net)) {
        return nn_err_set(err, NN_EINVAL, "output unit %d of %d", unit, nn_net_outputs(net));
    }
    if (!(o->tol > 0.0) || o->max_steps < 1 || o->max_steps > NN_IG_MAX_STEPS) {
        return nn_err_set(err, NN_EINVAL, "bad integrated-gradients options");
    }
    /* most rows converge in a few steps: a first try on a small budget keeps the scratch
     * small (no allocation large enough to make the allocator consolidate on its free); a
     * row it does not settle is explained again with the whole budget */
    small = *o;
    small.max_steps = o->max_steps < FIRST_TRY ? o->max_steps : FIRST_TRY;
    rc = ig_try(net, base, x, ind, val, nnz, unit, &small, attr_dense, attr_sparse, res, err);
    if (rc == 0 && !res->converged && small.max_steps < o->max_steps) {
        rc = ig_try(net, base, x, ind, val, nnz, unit, o, attr_dense, attr_sparse, res, err);
    }
    return rc;
}
