/*
 * utf8: recognising well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
 * U+10FFFF), the one rule that the CSV reader, the mail decoder and the daemon's replies share.
 * It never allocates and never converts: callers decide whether to refuse or replace.
 * Thread-safety: pure functions.
 */
#ifndef NEUROND_NN_UTF8_H
#define NEUROND_NN_UTF8_H

#include <stddef.h>

/**
 * Length of the well-formed multi-byte sequence starting at s.
 * @param s, n [in] the bytes (n >= 1).
 * @return 2..4, or 0 when s[0] does not start a well-formed sequence of at most n bytes
 *         (ASCII bytes return 0 too: test them before calling).
 */
size_t nn_utf8_seq(const unsigned char *s, size_t n);

/**
 * Checks that n bytes of s are well-formed UTF-8 (a NUL byte is U+0000: valid here).
 * @param bad [out] when not valid, the offset of the first byte that is not; may be NULL.
 * @return 1 when valid, 0 when not.
 */
int nn_utf8_valid(const char *s, size_t n, size_t *bad);

#endif
