/*
 * mail_sbuf: the bounded byte string of mail/ (see mail_sbuf.h). Growth doubles up to the
 * maximum; nothing past it is ever allocated.
 */
#include "mail/mail_sbuf.h"

#include <string.h>

#include "nn/alloc.h"

void mail_sb_init(struct mail_sbuf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->full = 0;
}

void mail_sb_fini(struct mail_sbuf *b)
{
    nn_free(b->p);
    mail_sb_init(b, b->max);
}

/* Makes room for extra more bytes (and the NUL), within max. */
int mail_sb_reserve(struct mail_sbuf *b, size_t extra)
{
    size_t need;
    size_t ncap;
    char *np;

    if (extra > b->max - b->len) {
        extra = b->max - b->len;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return NN_OK;
    }
    ncap = b->cap < 256 ? 256 : b->cap;
    while (ncap < need) {
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    }
    if (ncap > b->max + 1) {
        ncap = b->max + 1;
    }
    np = nn_realloc(b->p, ncap);
    if (np == NULL) {
        return NN_ENOMEM;
    }
    b->p = np;
    b->cap = ncap;
    return NN_OK;
}

/* Appends n bytes of valid UTF-8; past max, appends the whole characters that fit. */
int mail_sb_put(struct mail_sbuf *b, const char *s, size_t n)
{
    int rc;

    if (b->full || n == 0) {
        return NN_OK;
    }
    if (n > b->max - b->len) {
        n = b->max - b->len;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
        b->full = 1;
    }
    rc = mail_sb_reserve(b, n);
    if (rc != NN_OK) {
        return rc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return NN_OK;
}

int mail_sb_putc(struct mail_sbuf *b, char c)
{
    return mail_sb_put(b, &c, 1);
}

/* Appends one code point as UTF-8 (U+FFFD for invalid ones). */
int mail_sb_put_cp(struct mail_sbuf *b, uint32_t cp)
{
    char u[4];

    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        return mail_sb_putc(b, (char)cp);
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return mail_sb_put(b, u, 2);
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return mail_sb_put(b, u, 3);
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return mail_sb_put(b, u, 4);
}

/* Hands the buffer's string to the caller (an empty string when nothing was appended). */
int mail_sb_take(struct mail_sbuf *b, char **out, size_t *out_len)
{
    int rc = mail_sb_reserve(b, 0);

    if (rc != NN_OK) {
        return rc;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    *out_len = b->len;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return NN_OK;
}

int mail_sb_finish(struct mail_sbuf *b, int rc, char **out, size_t *out_len, const char *what,
                   struct nn_err *err)
{
    if (rc == NN_OK) {
        rc = mail_sb_take(b, out, out_len);
    }
    if (rc != NN_OK) {
        nn_err_set(err, rc, "out of memory %s", what);
    }
    mail_sb_fini(b);
    return rc;
}

int mail_out_start(char **out, size_t *out_len)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    return out != NULL && out_len != NULL ? 0 : -1;
}
