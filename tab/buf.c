/*
 * buf: bounded writer and reader for the binary model format. Little-endian on disk,
 * whatever the host; floats travel as their IEEE-754 bit patterns.
 */
#include "tab/buf.h"

#include <stdint.h>
#include <string.h>

#include "nn/alloc.h"

void tab_buf_init(struct tab_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void tab_buf_fini(struct tab_buf *b)
{
    nn_free(b->data);
    memset(b, 0, sizeof(*b));
}

int tab_buf_put(struct tab_buf *b, const void *p, size_t n)
{
    if (b->failed) {
        return NN_ENOMEM;
    }
    if (n > b->max - b->len) {
        b->failed = 1;
        return NN_ENOMEM;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        unsigned char *d;

        while (cap < b->len + n) {
            cap = cap > b->max / 2 ? b->max : cap * 2;
        }
        d = nn_realloc(b->data, cap);
        if (d == NULL) {
            b->failed = 1;
            return NN_ENOMEM;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return 0;
}

int tab_buf_put_u8(struct tab_buf *b, uint8_t v)
{
    return tab_buf_put(b, &v, 1);
}

/* Appends the n bytes (4 or 8) at v as a little-endian word: an unsigned or signed integer or
 * an IEEE float of that width. */
static int put_word(struct tab_buf *b, const void *v, int n)
{
    unsigned char x[8];
    uint64_t u;
    uint32_t w;
    int i;

    if (n == 4) {
        memcpy(&w, v, 4);
        u = w;
    } else {
        memcpy(&u, v, 8);
    }
    for (i = 0; i < n; i++) {
        x[i] = (unsigned char)(u >> (8 * i));
    }
    return tab_buf_put(b, x, (size_t)n);
}

int tab_buf_put_u32(struct tab_buf *b, uint32_t v)
{
    return put_word(b, &v, 4);
}

int tab_buf_put_u64(struct tab_buf *b, uint64_t v)
{
    return put_word(b, &v, 8);
}

int tab_buf_put_i32(struct tab_buf *b, int32_t v)
{
    return put_word(b, &v, 4);
}

int tab_buf_put_f32(struct tab_buf *b, float v)
{
    return put_word(b, &v, 4);
}

int tab_buf_put_f64(struct tab_buf *b, double v)
{
    return put_word(b, &v, 8);
}

/* Whether this host stores words little-endian, as the blob does (then floats copy whole). */
static int host_le(void)
{
    const uint32_t one = 1;
    unsigned char c;

    memcpy(&c, &one, 1);
    return c == 1;
}

int tab_buf_put_f32s(struct tab_buf *b, const float *v, size_t n)
{
    size_t i;

    if (host_le() && n <= SIZE_MAX / 4) {
        return tab_buf_put(b, v, n * 4); /* the same bytes as word by word, at memcpy speed */
    }
    for (i = 0; i < n; i++) {
        if (tab_buf_put_f32(b, v[i]) != 0) {
            return NN_ENOMEM;
        }
    }
    return 0;
}

int tab_buf_put_str(struct tab_buf *b, const char *s)
{
    size_t n = strlen(s);

    if (n > UINT32_MAX) {
        b->failed = 1;
        return NN_ENOMEM;
    }
    tab_buf_put_u32(b, (uint32_t)n);
    return tab_buf_put(b, s, n);
}

void tab_rd_init(struct tab_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

size_t tab_rd_left(const struct tab_rd *r)
{
    return r->len - r->off;
}

int tab_rd_need(struct tab_rd *r, size_t n, size_t size, const char *what, struct nn_err *err)
{
    if (size != 0 && n > tab_rd_left(r) / size) {
        return nn_err_set(err, NN_EFORMAT,
                          "model blob truncated: %s needs %zu x %zu bytes at offset %zu, %zu left",
                          what, n, size, r->off, tab_rd_left(r));
    }
    return 0;
}

static int get(struct tab_rd *r, unsigned char *x, size_t n, const char *what, struct nn_err *err)
{
    if (tab_rd_need(r, n, 1, what, err) != 0) {
        return NN_EFORMAT;
    }
    memcpy(x, r->p + r->off, n);
    r->off += n;
    return 0;
}

int tab_rd_u8(struct tab_rd *r, uint8_t *v, const char *what, struct nn_err *err)
{
    return get(r, v, 1, what, err);
}

/* Reads an n-byte (4 or 8) little-endian word into the n bytes at v: an unsigned or signed
 * integer or an IEEE float of that width. */
static int get_word(struct tab_rd *r, int n, void *v, const char *what, struct nn_err *err)
{
    unsigned char x[8];
    uint64_t u = 0;
    uint32_t w;
    int i;

    if (get(r, x, (size_t)n, what, err) != 0) {
        return NN_EFORMAT;
    }
    for (i = n - 1; i >= 0; i--) {
        u = (u << 8) | x[i];
    }
    w = (uint32_t)u;
    memcpy(v, n == 4 ? (const void *)&w : (const void *)&u, (size_t)n);
    return 0;
}

int tab_rd_u32(struct tab_rd *r, uint32_t *v, const char *what, struct nn_err *err)
{
    return get_word(r, 4, v, what, err);
}

int tab_rd_u64(struct tab_rd *r, uint64_t *v, const char *what, struct nn_err *err)
{
    return get_word(r, 8, v, what, err);
}

int tab_rd_i32(struct tab_rd *r, int32_t *v, const char *what, struct nn_err *err)
{
    return get_word(r, 4, v, what, err);
}

int tab_rd_f32(struct tab_rd *r, float *v, const char *what, struct nn_err *err)
{
    return get_word(r, 4, v, what, err);
}

int tab_rd_f64(struct tab_rd *r, double *v, const char *what, struct nn_err *err)
{
    return get_word(r, 8, v, what, err);
}

int tab_rd_f32s(struct tab_rd *r, float *dst, size_t n, const char *what, struct nn_err *err)
{
    size_t i;

    if (tab_rd_need(r, n, 4, what, err) != 0) {
        return NN_EFORMAT;
    }
    if (host_le()) {
        memcpy(dst, r->p + r->off, n * 4); /* tab_rd_need checked n * 4 fits */
        r->off += n * 4;
        return 0;
    }
    for (i = 0; i < n; i++) {
        tab_rd_f32(r, &dst[i], what, err);
    }
    return 0;
}

int tab_rd_str(struct tab_rd *r, char **out, size_t max_len, const char *what, struct nn_err *err)
{
    uint32_t n;
    char *s;

    *out = NULL;
    if (tab_rd_u32(r, &n, what, err) != 0) {
        return NN_EFORMAT;
    }
    if (n > max_len) {
        return nn_err_set(err, NN_EFORMAT, "model blob: %s is %u bytes long, limit %zu", what, n,
                          max_len);
    }
    if (tab_rd_need(r, n, 1, what, err) != 0) {
        return NN_EFORMAT;
    }
    if (memchr(r->p + r->off, '\0', n) != NULL) { /* it would be cut short, and read back shorter */
        return nn_err_set(err, NN_EFORMAT, "model blob: %s holds a NUL byte", what);
    }
    s = nn_strndup((const char *)r->p + r->off, n);
    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory reading %s", what);
    }
    r->off += n;
    *out = s;
    return 0;
}
