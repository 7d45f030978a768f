/*
 * mat: data set storage (dense block + CSR sparse block) and the one BLAS entry point.
 *
 * Why: every batched product of the network goes through nn_mat_gemm so there is exactly one
 * place that knows about CBLAS; data sets are plain structs of flat arrays so the network
 * can index rows without copying. Splits copy rows (nn_dataset_take_rows) so that a training
 * set and its validation set own their memory independently.
 */
#include "nn/mat.h"

#include <cblas.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/err.h"

int nn_dataset_alloc(struct nn_dataset *ds, size_t rows, int dense_cols, int sparse_cols,
                     size_t nnz, int with_y)
{
    struct nn_dataset d;

    memset(ds, 0, sizeof(*ds));
    memset(&d, 0, sizeof(d));
    if (dense_cols < 0 || sparse_cols < 0) {
        return NN_EINVAL;
    }
    d.rows = rows;
    d.dense_cols = dense_cols;
    d.sparse_cols = sparse_cols;
    if (dense_cols > 0 && rows > 0) {
        d.dense = nn_calloc(rows, (size_t)dense_cols * sizeof(float));
        if (d.dense == NULL) {
            goto fail;
        }
    }
    if (sparse_cols > 0) {
        d.indptr = nn_calloc(rows + 1, sizeof(size_t));
        if (d.indptr == NULL) {
            goto fail;
        }
        if (nnz > 0) {
            d.indices = nn_calloc(nnz, sizeof(int32_t));
            d.values = nn_calloc(nnz, sizeof(float));
            if (d.indices == NULL || d.values == NULL) {
                goto fail;
            }
        }
    }
    if (with_y && rows > 0) {
        d.y = nn_calloc(rows, sizeof(float));
        if (d.y == NULL) {
            goto fail;
        }
    }
    *ds = d;
    return 0;
fail:
    nn_dataset_free(&d);
    return NN_ENOMEM;
}

int nn_sparse_append(int32_t **indices, float **values, size_t *n, size_t *cap, const int32_t *ind,
                     const float *val, size_t nz)
{
    if (*n + nz > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *n + nz) {
            c *= 2;
        }
        int32_t *ni = nn_reallocarray(*indices, c, sizeof(int32_t));
        if (ni == NULL) {
            return NN_ENOMEM;
        }
        *indices = ni;
        float *nv = nn_reallocarray(*values, c, sizeof(float));
        if (nv == NULL) {
            return NN_ENOMEM;
        }
        *values = nv;
        *cap = c;
    }
    if (nz > 0) {
        memcpy(*indices + *n, ind, nz * sizeof(int32_t));
        memcpy(*values + *n, val, nz * sizeof(float));
        *n += nz;
    }
    return 0;
}

void nn_dataset_free(struct nn_dataset *ds)
{
    if (ds == NULL) {
        return;
    }
    NN_FREE_ALL(ds->dense, ds->indptr, ds->indices, ds->values, ds->y);
    memset(ds, 0, sizeof(*ds));
}

int nn_dataset_take_rows(struct nn_dataset *dst, const struct nn_dataset *src, const size_t *idx,
                         size_t n)
{
    struct nn_dataset d;
    size_t i, nnz = 0, pos = 0;
    size_t dc = (size_t)src->dense_cols;
    int rc;

    memset(dst, 0, sizeof(*dst));
    for (i = 0; i < n; i++) {
        if (idx[i] >= src->rows) {
            return NN_EINVAL;
        }
        if (src->sparse_cols > 0) {
            nnz += src->indptr[idx[i] + 1] - src->indptr[idx[i]];
        }
    }
    rc = nn_dataset_alloc(&d, n, src->dense_cols, src->sparse_cols, nnz, src->y != NULL);
    if (rc != 0) {
        return rc;
    }
    for (i = 0; i < n; i++) {
        size_t r = idx[i];

        if (dc > 0) {
            memcpy(d.dense + i * dc, src->dense + r * dc, dc * sizeof(float));
        }
        if (src->sparse_cols > 0) {
            size_t a = src->indptr[r], len = src->indptr[r + 1] - a;

            if (len > 0) {
                memcpy(d.indices + pos, src->indices + a, len * sizeof(int32_t));
                memcpy(d.values + pos, src->values + a, len * sizeof(float));
            }
            pos += len;
            d.indptr[i + 1] = pos;
        }
        if (src->y != NULL) {
            d.y[i] = src->y[r];
        }
    }
    *dst = d;
    return 0;
}

/* C = alpha op(A) op(B) + beta C. Two degenerate shapes skip sgemm's set-up cost, which
 * dominates for them: n == 1 (a matrix-vector product, as for a one-unit output layer) goes
 * through cblas_sgemv, and k == 1 with beta == 0 (an outer product) is a plain loop. */
void nn_mat_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    int i, j;

    if (m <= 0 || n <= 0) {
        return;
    }
    if (n == 1 && k > 0) {
        if (beta == 0.0f) {
            for (i = 0; i < m; i++) {
                c[(size_t)i * (size_t)ldc] = 0.0f; /* sgemv may scale NaN by 0 */
            }
        }
        cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_a ? k : m,
                    trans_a ? m : k, alpha, a, lda, b, trans_b ? 1 : ldb, beta, c, ldc);
        return;
    }
    if (k == 1 && beta == 0.0f) {
        size_t sb = trans_b ? (size_t)ldb : 1;

        for (i = 0; i < m; i++) {
            float ai = alpha * (trans_a ? a[i] : a[(size_t)i * (size_t)lda]);
            float *restrict ci = c + (size_t)i * (size_t)ldc;

            if (sb == 1) {
                const float *restrict bj = b;

                for (j = 0; j + 8 <= n; j += 8) {
                    int q;

                    for (q = 0; q < 8; q++) {
                        ci[j + q] = ai * bj[j + q];
                    }
                }
                for (; j < n; j++) {
                    ci[j] = ai * bj[j];
                }
            } else {
                for (j = 0; j < n; j++) {
                    ci[j] = ai * b[(size_t)j * sb];
                }
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
