/*
 * mail_sbuf: the bounded byte string every mail/ stage appends to (internal to mail/).
 *
 * A growing UTF-8 string with a hard maximum (curl's dynbuf): appending past the maximum cuts
 * at a character boundary and marks the buffer full instead of failing, so a huge mail yields
 * its first max bytes of text. Memory goes through nn/alloc.h (NN_ENOMEM on failure).
 * Thread-safety: a buffer belongs to one call; no shared state.
 */
#ifndef NEUROND_MAIL_MAIL_SBUF_H
#define NEUROND_MAIL_MAIL_SBUF_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"

/* A growing byte string with a hard maximum; appending past max cuts at a UTF-8 boundary. */
struct mail_sbuf {
    char *p;
    size_t len;
    size_t cap; /* bytes allocated, the NUL included */
    size_t max; /* most bytes of content */
    int full;   /* something was cut */
};

/** Starts an empty buffer that holds at most max bytes (no allocation yet). */
void mail_sb_init(struct mail_sbuf *b, size_t max);

/** Frees the content and empties the buffer (max kept). */
void mail_sb_fini(struct mail_sbuf *b);

/** Makes room for extra more bytes (and the NUL), within max. @return NN_OK or NN_ENOMEM. */
int mail_sb_reserve(struct mail_sbuf *b, size_t extra);

/** Appends n bytes of valid UTF-8; past max, the whole characters that fit. @return NN_OK or
 * NN_ENOMEM. */
int mail_sb_put(struct mail_sbuf *b, const char *s, size_t n);

/** Appends one byte. @return NN_OK or NN_ENOMEM. */
int mail_sb_putc(struct mail_sbuf *b, char c);

/** Appends one code point as UTF-8 (U+FFFD for invalid ones). @return NN_OK or NN_ENOMEM. */
int mail_sb_put_cp(struct mail_sbuf *b, uint32_t cp);

/** Hands the string to the caller (an empty string when nothing was appended).
 * Ownership: *out is the caller's, freed with nn_free. @return NN_OK or NN_ENOMEM. */
int mail_sb_take(struct mail_sbuf *b, char **out, size_t *out_len);

/**
 * The end of a public mail_* call that built its text in b: when rc is NN_OK, hands the text
 * over as mail_sb_take does; otherwise (or when that fails) sets err to "out of memory <what>".
 * Frees b either way. @return the final code.
 */
int mail_sb_finish(struct mail_sbuf *b, int rc, char **out, size_t *out_len, const char *what,
                   struct nn_err *err);

/** Clears the out-pointers of a public call (those not NULL). @return 0 when both are given,
 * -1 when either is NULL. */
int mail_out_start(char **out, size_t *out_len);

#endif
