/*
 * mail_charset: bytes to clean UTF-8 (see mail_charset.h). The built-in decoders cover the
 * charsets nearly all mail uses without iconv's set-up cost; iconv output is cleaned again, so
 * every path ends in the same clean_text rules.
 */
#include "mail/mail_charset.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <gmime/gmime.h>

#include "nn/utf8.h"

/* windows-1252 0x80..0x9F; 0 marks the five unassigned bytes (taken as U+FFFD). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

uint32_t mail_cp1252(unsigned char c)
{
    if (c >= 0x80 && c < 0xA0) {
        return cp1252_hi[c - 0x80] != 0 ? cp1252_hi[c - 0x80] : 0xFFFD;
    }
    return c;
}


/*
 * Appends s as clean UTF-8: line ends made "\n", NUL and other C0/C1 controls (but tab and
 * newline) dropped, bytes decoded per mode.
 */
int mail_clean_text(const char *s, size_t n, enum mail_conv mode, struct mail_sbuf *o)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    size_t run = 0; /* start of a run of bytes copied as they are */
    int rc = NN_OK;

    while (i < n && !o->full) {
        unsigned char c = u[i];
        size_t k;

        if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n') {
            i++;
            continue;
        }
        k = c >= 0x80 && mode == MAIL_CONV_AUTO ? nn_utf8_seq(u + i, n - i) : 0;
        if (k > 0 && !(c == 0xC2 && u[i + 1] < 0xA0)) {
            i += k;
            continue;
        }
        rc = mail_sb_put(o, s + run, i - run);
        if (rc != NN_OK) {
            return rc;
        }
        if (k > 0) {
            i += k; /* a C1 control written in UTF-8: dropped */
            run = i;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= n || u[i + 1] != '\n') {
                rc = mail_sb_putc(o, '\n');
            }
        } else if (c >= 0x80) {
            rc = mail_sb_put_cp(o, mail_cp1252(c)); /* latin-1 text, or a byte that is not UTF-8 */
        }
        if (rc != NN_OK) {
            return rc;
        }
        i++;
        run = i;
    }
    return mail_sb_put(o, s + run, i - run);
}

static int ascii_ieq(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        if (mail_lower((unsigned char)*a) != mail_lower((unsigned char)*b)) {
            return 0;
        }
        a++;
        b++;
    }
    return *a == *b;
}

/* Charsets we decode ourselves: AUTO for UTF-8 and ASCII, 1252 for latin-1 and windows-1252. */
static int builtin_mode(const char *cs, enum mail_conv *mode)
{
    static const char *const autos[] = {"utf-8",     "utf8",         "us-ascii",
                                        "ascii",     "us_ascii",     "ansi_x3.4-1968",
                                        "x-unknown", "unknown-8bit", "default"};
    static const char *const w1252[] = {"iso-8859-1", "iso8859-1",  "iso_8859-1",   "latin1",
                                        "latin-1",    "l1",         "windows-1252", "cp1252",
                                        "x-cp1252",   "iso-ir-100", "ibm819",       "cp819"};
    size_t i;

    if (cs == NULL || cs[0] == '\0') {
        *mode = MAIL_CONV_AUTO;
        return 1;
    }
    for (i = 0; i < sizeof autos / sizeof autos[0]; i++) {
        if (ascii_ieq(cs, autos[i])) {
            *mode = MAIL_CONV_AUTO;
            return 1;
        }
    }
    for (i = 0; i < sizeof w1252 / sizeof w1252[0]; i++) {
        if (ascii_ieq(cs, w1252[i])) {
            *mode = MAIL_CONV_1252;
            return 1;
        }
    }
    return 0;
}

/* ==========================================================================================
 * GMime's one-time set-up, done here before the first call that needs it (pthread_once: any
 * number of threads may race to it), so that no caller can forget it.
 */
static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

void mail_gmime_ready(void)
{
    (void)pthread_once(&gmime_once, gmime_init_once);
}

/*
 * Appends the bytes of a part in charset cs as clean UTF-8. Charsets iconv does not know are
 * decoded as AUTO; bytes iconv rejects become U+FFFD.
 */
int mail_decode_charset(const char *s, size_t n, const char *cs, struct mail_sbuf *o)
{
    enum mail_conv mode;
    iconv_t cd;
    struct mail_sbuf tmp;
    char *in = (char *)(uintptr_t)s;
    size_t inleft = n;
    int rc = NN_OK;

    if (builtin_mode(cs, &mode)) {
        return mail_clean_text(s, n, mode, o);
    }
    mail_gmime_ready();
    cd = g_mime_iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1) {
        return mail_clean_text(s, n, MAIL_CONV_AUTO, o);
    }
    /* UTF-8 from any charset is at most 4 bytes per input byte (plus U+FFFD marks, 3). */
    mail_sb_init(&tmp, n > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : n * 4 + 64);
    while (inleft > 0) {
        char *op;
        size_t oleft;
        size_t r;

        rc = mail_sb_reserve(&tmp, inleft * 2 + 16);
        if (rc != NN_OK) {
            goto fail;
        }
        op = tmp.p + tmp.len;
        oleft = tmp.cap - 1 - tmp.len;
        r = iconv(cd, &in, &inleft, &op, &oleft);
        tmp.len = (size_t)(op - tmp.p);
        if (r != (size_t)-1) {
            break;
        }
        if (errno == E2BIG) {
            if (tmp.cap - 1 >= tmp.max) {
                break; /* cannot happen within the bound; stop rather than loop */
            }
            rc = mail_sb_reserve(&tmp, tmp.cap); /* grow */
            if (rc != NN_OK) {
                goto fail;
            }
            continue;
        }
        /* EILSEQ or EINVAL: one undecodable byte */
        rc = mail_sb_put_cp(&tmp, 0xFFFD);
        if (rc != NN_OK) {
            goto fail;
        }
        in++;
        inleft--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    rc = mail_clean_text(tmp.p != NULL ? tmp.p : "", tmp.len, MAIL_CONV_AUTO, o);
fail:
    g_mime_iconv_close(cd);
    mail_sb_fini(&tmp);
    return rc;
}
