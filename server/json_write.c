/*
 * json_write: see json_write.h. Strings are copied in runs between the bytes that need an
 * escape; numbers go through one strfromd.
 */
#define __STDC_WANT_IEC_60559_BFP_EXT__ 1 /* strfromd (C2x, glibc >= 2.25) */
#include "json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_json_raw(struct nn_buf *b, const char *s)
{
    nn_buf_put(b, s, strlen(s));
}

void srv_json_str(struct nn_buf *b, const char *s)
{
    const char *run = s;
    char esc[8];

    nn_buf_put(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e = NULL;

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        nn_buf_put(b, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            e = esc;
        }
        srv_json_raw(b, e);
    }
    nn_buf_put(b, run, (size_t)(s - run));
    nn_buf_put(b, "\"", 1);
}

void srv_json_int(struct nn_buf *b, long v)
{
    char buf[24];
    size_t i = sizeof(buf);
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0) {
        buf[--i] = '-';
    }
    nn_buf_put(b, buf + i, sizeof(buf) - i);
}

int srv_json_float_text(float v, char buf[40])
{
    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    /* strfromd: the same digits as snprintf's %.7g without its format-string machinery */
    int n = strfromd(buf, 40, "%.7g", (double)v);
    /* %.7g and cJSON's %1.15g agree except where %.7g chose an exponent that %1.15g does not
     * (1e7 <= |v| < 1e15) */
    if (strchr(buf, 'e') != NULL) {
        n = strfromd(buf, 40, "%.15g", strtod(buf, NULL));
    }
    return n;
}

void srv_json_float(struct nn_buf *b, float v)
{
    char buf[40];
    int n = srv_json_float_text(v, buf);

    nn_buf_put(b, buf, (size_t)n);
}
