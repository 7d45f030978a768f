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

void srv_json_raw(struct tab_buf *b, const char *s)
{
    tab_buf_put(b, s, strlen(s));
}

void srv_json_str(struct tab_buf *b, const char *s)
{
    const char *run = s;
    char esc[8];

    tab_buf_put(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e = NULL;

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        tab_buf_put(b, run, (size_t)(s - run));
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
    tab_buf_put(b, run, (size_t)(s - run));
    tab_buf_put(b, "\"", 1);
}

void srv_json_int(struct tab_buf *b, long v)
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
    tab_buf_put(b, buf + i, sizeof(buf) - i);
}

/*
 * The 7 significant digits of a (finite, > 0) as an integer in [1e6, 1e7) and the decimal
 * exponent of the first, rounded to nearest with ties to even as printf does, by double
 * arithmetic: t = a * 10^(6-e) is within 3e-9 of its exact value (a float times a correctly
 * rounded power of ten, one rounding), so unless t is within 1e-6 of a tie the rounding is the
 * exact one. @return 0 near a tie (the caller asks strfromd), else 1.
 */
static int digits7(double a, long *digits, int *e10)
{
    /* 10^-1 .. 10^51, each literal correctly rounded by the compiler */
    static const double pow10[53] = {
        1e-1, 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12,
        1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26,
        1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40,
        1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51};
    int e = (int)floor(log10(a));

    for (int tries = 0; tries < 2; tries++) {
        int k = 6 - e;
        if (k < -1 || k > 51) {
            return 0;
        }
        double t = a * pow10[k + 1];
        if (t < 1e6) {
            e--;
            continue;
        }
        if (t >= 1e7) {
            e++;
            continue;
        }
        double r = floor(t), frac = t - r;
        if (fabs(frac - 0.5) < 1e-6) {
            return 0;
        }
        long d = (long)r + (frac > 0.5);
        if (d == 10000000) {
            d = 1000000;
            e++;
        }
        *digits = d;
        *e10 = e;
        return 1;
    }
    return 0;
}

/* %.7g's text for v, which is finite, non-zero and below 1e7 in magnitude. 0 = use strfromd. */
static int format7(float v, char *buf)
{
    long d;
    int e, n = 0;
    char ds[8];

    if (!digits7(fabs((double)v), &d, &e)) {
        return 0;
    }
    for (int i = 6; i >= 0; i--, d /= 10) {
        ds[i] = (char)('0' + d % 10);
    }
    int nd = 7;
    while (nd > 1 && ds[nd - 1] == '0') {
        nd--;
    }
    if (v < 0) {
        buf[n++] = '-';
    }
    if (e >= 0 && e < 7) { /* ddd[.ddd] */
        for (int i = 0; i <= e; i++) {
            buf[n++] = ds[i];
        }
        if (nd > e + 1) {
            buf[n++] = '.';
            for (int i = e + 1; i < nd; i++) {
                buf[n++] = ds[i];
            }
        }
    } else if (e < 0 && e >= -4) { /* 0.000ddd */
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = -1; i > e; i--) {
            buf[n++] = '0';
        }
        for (int i = 0; i < nd; i++) {
            buf[n++] = ds[i];
        }
    } else if (e < -4) { /* d.dddde-XX */
        buf[n++] = ds[0];
        if (nd > 1) {
            buf[n++] = '.';
            for (int i = 1; i < nd; i++) {
                buf[n++] = ds[i];
            }
        }
        buf[n++] = 'e';
        buf[n++] = '-';
        if (-e >= 100) {
            buf[n++] = (char)('0' + -e / 100);
        }
        buf[n++] = (char)('0' + (-e / 10) % 10);
        buf[n++] = (char)('0' + -e % 10);
    } else {
        return 0;
    }
    buf[n] = '\0';
    return n;
}

/* The text srv_json_float appends, into buf (NUL-terminated). @return its length. */
static int float_text(float v, char buf[40])
{
    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    int n = v != 0 && fabsf(v) < 1e7f ? format7(v, buf) : 0;
    if (n > 0) {
        return n;
    }
    /* strfromd: the same digits as snprintf's %.7g without its format-string machinery */
    n = strfromd(buf, 40, "%.7g", (double)v);
    /* %.7g and cJSON's %1.15g agree except where %.7g chose an exponent that %1.15g does not
     * (1e7 <= |v| < 1e15) */
    if (strchr(buf, 'e') != NULL) {
        n = strfromd(buf, 40, "%.15g", strtod(buf, NULL));
    }
    return n;
}

void srv_json_member_float(struct tab_buf *b, int first, const char *key, float v)
{
    if (!first) {
        srv_json_raw(b, ",");
    }
    srv_json_str(b, key);
    srv_json_raw(b, ":");
    srv_json_float(b, v);
}

void srv_json_float(struct tab_buf *b, float v)
{
    char buf[40];
    int n = float_text(v, buf);

    tab_buf_put(b, buf, (size_t)n);
}

void srv_json_tree(struct tab_buf *b, const cJSON *j)
{
    const cJSON *c;

    if (cJSON_IsNumber(j)) {
        srv_json_float(b, (float)j->valuedouble);
    } else if (cJSON_IsString(j)) {
        srv_json_str(b, j->valuestring);
    } else if (cJSON_IsRaw(j)) {
        srv_json_raw(b, j->valuestring);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        srv_json_raw(b, cJSON_IsArray(j) ? "[" : "{");
        for (c = j->child; c != NULL; c = c->next) {
            if (c != j->child) {
                srv_json_raw(b, ",");
            }
            if (cJSON_IsObject(j)) {
                srv_json_str(b, c->string);
                srv_json_raw(b, ":");
            }
            srv_json_tree(b, c);
        }
        srv_json_raw(b, cJSON_IsArray(j) ? "]" : "}");
    } else {
        srv_json_raw(b, cJSON_IsTrue(j) ? "true" : cJSON_IsFalse(j) ? "false" : "null");
    }
}
