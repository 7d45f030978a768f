/*
 * buf: a growable byte buffer with a hard maximum (curl's dynbuf) for writing model blobs,
 * and a bounded little-endian reader for parsing them. Every read checks the bytes left
 * before it copies or before the caller allocates from a length it read.
 * Thread-safety: one buffer / reader per thread.
 */
#ifndef NEUROND_TAB_BUF_H
#define NEUROND_TAB_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"

struct tab_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard limit; appends past it fail with NN_ENOMEM */
    int failed; /* sticky: set by the first failed append, later appends are no-ops */
};

/** Starts an empty buffer that may grow to max bytes. */
void tab_buf_init(struct tab_buf *b, size_t max);
/** Frees the buffer's memory and resets it. */
void tab_buf_fini(struct tab_buf *b);
/** Appends bytes; on failure sets b->failed. @return 0 or NN_ENOMEM. */
int tab_buf_put(struct tab_buf *b, const void *p, size_t n);
int tab_buf_put_u8(struct tab_buf *b, uint8_t v);
int tab_buf_put_u32(struct tab_buf *b, uint32_t v);
int tab_buf_put_u64(struct tab_buf *b, uint64_t v);
int tab_buf_put_i32(struct tab_buf *b, int32_t v);
int tab_buf_put_f32(struct tab_buf *b, float v);
int tab_buf_put_f64(struct tab_buf *b, double v);
/** Appends n floats (little-endian). */
int tab_buf_put_f32s(struct tab_buf *b, const float *v, size_t n);
/** Appends a u32 length then the bytes of a NUL-terminated string (no NUL). */
int tab_buf_put_str(struct tab_buf *b, const char *s);

struct tab_rd {
    const unsigned char *p;
    size_t len;
    size_t off;
};

/** Starts reading len bytes at p (borrowed; must outlive the reader). */
void tab_rd_init(struct tab_rd *r, const void *p, size_t len);
/** Bytes left. */
size_t tab_rd_left(const struct tab_rd *r);
/** Each reader fails with NN_EFORMAT (message names `what` and the offset) when too few bytes
 *  are left; *v is written only on success. */
int tab_rd_u8(struct tab_rd *r, uint8_t *v, const char *what, struct nn_err *err);
int tab_rd_u32(struct tab_rd *r, uint32_t *v, const char *what, struct nn_err *err);
int tab_rd_u64(struct tab_rd *r, uint64_t *v, const char *what, struct nn_err *err);
int tab_rd_i32(struct tab_rd *r, int32_t *v, const char *what, struct nn_err *err);
int tab_rd_f32(struct tab_rd *r, float *v, const char *what, struct nn_err *err);
int tab_rd_f64(struct tab_rd *r, double *v, const char *what, struct nn_err *err);
/** Reads n floats into dst; checks n*4 bytes are left first. */
int tab_rd_f32s(struct tab_rd *r, float *dst, size_t n, const char *what, struct nn_err *err);
/**
 * Reads a string written by tab_buf_put_str, at most max_len bytes long.
 * @return 0, NN_EFORMAT or NN_ENOMEM. Ownership: *out is new; caller frees with nn_free.
 */
int tab_rd_str(struct tab_rd *r, char **out, size_t max_len, const char *what, struct nn_err *err);
/** Checks that n items of `size` bytes each can still be read (before allocating for them). */
int tab_rd_need(struct tab_rd *r, size_t n, size_t size, const char *what, struct nn_err *err);

#endif
