/*
 * mat: the data a network reads — row-major float32 dense blocks and CSR sparse blocks —
 * and the few matrix kernels everything else uses.
 *
 * A data set row is [dense part | sparse part]: numeric and one-hot features are dense, hashed
 * text features are a CSR block (cost ~ non-zeros, never a 2^18-wide dense row). Batched
 * products go through cblas_sgemm (OpenBLAS); the single-row paths are plain loops because a
 * BLAS call costs more than the work for one row.
 * Thread-safety: pure functions over caller-owned memory.
 */
#ifndef NEUROND_NN_MAT_H
#define NEUROND_NN_MAT_H

#include <stddef.h>
#include <stdint.h>

/*
 * A data set (or a view of some of its rows). Owns nothing by itself: nn_dataset_free
 * releases what nn_dataset_alloc made. Row i's features are dense[i*dense_cols ..] followed
 * by the sparse entries indices[indptr[i] .. indptr[i+1]) (column ids in [0, sparse_cols),
 * strictly increasing within a row) with their values. y[i] is the class index (as a float:
 * 0..k-1) for classification, or the (standardised) target for regression.
 */
struct nn_dataset {
    size_t rows;
    int dense_cols;
    float *dense;     /* rows x dense_cols, row-major; NULL when dense_cols == 0 */
    int sparse_cols;  /* 0 when there is no sparse block */
    size_t *indptr;   /* rows + 1 entries; NULL when sparse_cols == 0 */
    int32_t *indices; /* indptr[rows] entries */
    float *values;    /* indptr[rows] entries */
    float *y;         /* rows entries; may be NULL for prediction-only data */
};

/**
 * Allocates a data set of `rows` rows with a dense block and room for `nnz` sparse entries.
 * @return 0 or NN_ENOMEM; on failure *ds is left zeroed.
 * Ownership: caller frees with nn_dataset_free.
 */
int nn_dataset_alloc(struct nn_dataset *ds, size_t rows, int dense_cols, int sparse_cols,
                     size_t nnz, int with_y);

/** Frees what nn_dataset_alloc made and zeroes *ds. NULL-safe. */
void nn_dataset_free(struct nn_dataset *ds);

/**
 * Appends nz sparse entries (ind[i], val[i]) to the growing arrays *indices and *values, which
 * hold *n entries in room for *cap (grown by doubling, from 4096); *n += nz.
 * @return 0 or NN_ENOMEM (the arrays then keep their entries; one may have grown).
 * Ownership: the arrays stay the caller's (nn_free).
 */
int nn_sparse_append(int32_t **indices, float **values, size_t *n, size_t *cap, const int32_t *ind,
                     const float *val, size_t nz);

/**
 * Copies the rows idx[0..n) of src into a new data set (the validation / training split).
 * @return 0 or NN_ENOMEM. Ownership: caller frees *dst with nn_dataset_free.
 */
int nn_dataset_take_rows(struct nn_dataset *dst, const struct nn_dataset *src, const size_t *idx,
                         size_t n);

/** C = alpha * op(A) * op(B) + beta * C, row-major, through cblas_sgemm. */
void nn_mat_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
