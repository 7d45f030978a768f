/*
 * utf8: well-formed UTF-8 (utf8.h). The table of RFC 3629 section 4 as code: a lead byte
 * C2..DF takes one continuation byte, E0..EF two (E0 then A0..BF: no overlong form; ED then
 * 80..9F: no surrogate), F0..F4 three (F0 then 90..BF; F4 then 80..8F: at most U+10FFFF).
 */
#include "utf8.h"

size_t nn_utf8_seq(const unsigned char *s, size_t n)
{
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)) {
            return 0; /* overlong or surrogate */
        }
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)) {
            return 0; /* overlong or past U+10FFFF */
        }
        return 4;
    }
    return 0;
}

int nn_utf8_valid(const char *s, size_t n, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = nn_utf8_seq(u + i, n - i);
        if (k == 0) {
            if (bad != NULL) {
                *bad = i;
            }
            return 0;
        }
        i += k;
    }
    return 1;
}
