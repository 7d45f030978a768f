/*
 * test_mail: nn_mail decodes raw e-mail (headers, MIME, transfer encodings, charsets, HTML) into
 * the "subject\n\nbody" text the spam model reads, within its limits, and the decoded forms
 * normalise to the same text. Messages come from tests/data/mail/ (hand-written) or are built
 * here (20 MB, 1,000 parts, random bytes). The decoded spam texts come from
 * tests/data/spamassassin_train.csv.xz, unpacked into build/.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mail/mail.h"
#include "nn/alloc.h"
#include "nn/err.h"
#include "nn/rng.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Decodes a message held in memory with the default limits; the result must be OK. */
static char *decode_mem(const char *raw, size_t len, size_t *out_len)
{
    struct nn_err err;
    char *out = NULL;
    size_t n = 0;
    int rc = mail_to_text(raw, len, NULL, &out, &n, &err);

    if (rc != NN_OK) {
        fail_msg("mail_to_text: %d %s", rc, err.msg);
    }
    assert_non_null(out);
    assert_int_equal(strlen(out), n); /* NUL-terminated, no NUL inside */
    if (out_len != NULL) {
        *out_len = n;
    }
    return out;
}

static char *decode_file(const char *name)
{
    char path[256];
    size_t len;
    char *raw;
    char *out;

    snprintf(path, sizeof path, "tests/data/mail/%s", name);
    raw = read_file(path, &len);
    out = decode_mem(raw, len, NULL);
    free(raw);
    return out;
}

static void expect_file(const char *name, const char *want)
{
    char *got = decode_file(name);

    assert_string_equal(got, want);
    nn_free(got);
}

/* Whether s[0..n) is valid UTF-8 without NUL or C0 controls other than tab and newline. */
static int clean_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t k;
        size_t j;
        if (u[i] < 0x80) {
            if ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n') || u[i] == 0x7F) {
                return 0;
            }
            i++;
            continue;
        }
        if (u[i] >= 0xC2 && u[i] <= 0xDF) {
            k = 2;
        } else if (u[i] >= 0xE0 && u[i] <= 0xEF) {
            k = 3;
        } else if (u[i] >= 0xF0 && u[i] <= 0xF4) {
            k = 4;
        } else {
            return 0;
        }
        if (i + k > n) {
            return 0;
        }
        for (j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += k;
    }
    return 1;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(mail_global_init(), NN_OK);
    assert_int_equal(mail_global_init(), NN_OK); /* idempotent */
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Headers                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_folded_headers(void **state)
{
    (void)state;
    expect_file("folded.eml", "A subject that is folded over three lines\n\n"
                              "Hello Bob,\nthe subject above was folded.\n");
}

static void test_encoded_word_subjects(void **state)
{
    (void)state;
    expect_file("subject_b64.eml", "Grüße aus Köln – 5 €\n\nBody.\n");
    expect_file("subject_qp.eml", "Café crème and naïve\n\nBody.\n");
}

static void test_mbox_from_line(void **state)
{
    (void)state;
    expect_file("mbox.eml", "mbox style\n\nBody after an mbox From line.\n");
}

/* ------------------------------------------------------------------------------------------ */
/* Bodies                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void test_base64_body(void **state)
{
    (void)state;
    expect_file("base64.eml", "base64 body\n\nCeci est un texte encodé en base64.\n"
                              "Deuxième ligne: 10 € seulement!\n");
}

static void test_qp_body(void **state)
{
    (void)state;
    expect_file("qp.eml", "quoted-printable body\n\nVoilà une ligne très longue qui est coupée "
                          "par un saut de ligne doux au milieu d'un mot, et un = signe.\n");
}

static void test_multipart_alternative(void **state)
{
    (void)state;
    /* both alternatives, in order; the HTML one reduced to text */
    expect_file("alternative.eml",
                "alternative\n\nPlain version of the offer.\n\nHTML version of the offer.");
}

static void test_nested_multipart(void **state)
{
    (void)state;
    /* text parts of nested multiparts and of an attached message, the binary part skipped */
    expect_file("nested.eml", "nested\n\nfirst plain part\nsecond html part\n"
                              "third attached text\nfourth forwarded body");
}

static void test_latin1_and_cp1252(void **state)
{
    (void)state;
    expect_file("latin1.eml", "latin-1 body\n\nFaçade, naïve, à bientôt, £100.\n");
    expect_file("cp1252.eml", "windows-1252 body\n\n“Smart quotes” cost € 5 – or less…\n");
}

static void test_html_part(void **state)
{
    (void)state;
    /* title kept, style/script/comment dropped, entities decoded, white space collapsed */
    expect_file("html.eml", "html reduction\n\nOffer\n\nFish & chips <cheap> \"now\" été €5 © "
                            "&bogus;\n\nClick here!\nSecond line");
}

static void test_html_to_text(void **state)
{
    static const char html[] =
        "<HTML><BODY>Buy<SCRIPT>alert('<p>x</p>')</SCRIPT>   now<style>b{}</style>"
        "<p>A&amp;B &#65;&#x42; &euro;&nbsp;1 &#150; done<br/>line 2</p>\n\n\n"
        "<table><tr><td>c1</td><td>c2</td></tr></table>"
        "<a href=\"x\" title=\"a>b\">link</a> 3 < 4 <!-- gone --> end";
    char *out = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(mail_html_to_text(html, strlen(html), &out, &n, NULL), NN_OK);
    assert_string_equal(out, "Buy now\n\nA&B AB € 1 – done\nline 2\n\nc1 c2\n\nlink 3 < 4 end");
    assert_int_equal(n, strlen(out));
    nn_free(out);

    /* legacy entities without ';', <br><br> as a blank line, unknown names kept */
    assert_int_equal(mail_html_to_text("a&nbspb &amp c<br><br>d&copy e &lt", 34, &out, &n, NULL),
                     NN_OK);
    assert_string_equal(out, "a b & c\n\nd&copy e <");
    nn_free(out);

    /* an unterminated script swallows the rest; an unterminated comment too */
    assert_int_equal(mail_html_to_text("a<script>b", 10, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "a");
    nn_free(out);
    assert_int_equal(mail_html_to_text("a<!-- b", 7, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "a");
    nn_free(out);
}

static void test_keep_html_flag(void **state)
{
    size_t len;
    char path[] = "tests/data/mail/alternative.eml";
    char *raw = read_file(path, &len);
    struct mail_limits lim;
    char *out = NULL;
    size_t n = 0;

    (void)state;
    mail_limits_init(&lim);
    lim.flags = MAIL_KEEP_HTML;
    assert_int_equal(mail_to_text(raw, len, &lim, &out, &n, NULL), NN_OK);
    assert_non_null(strstr(out, "<p>HTML version of the <b>offer</b>.</p>"));
    nn_free(out);
    free(raw);
}

/* ------------------------------------------------------------------------------------------ */
/* Invariance and the three input forms                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Builds a message from headers in the given order, with "\n" or "\r\n" line ends. */
static char *build_message(const char *const *hdr, const size_t *order, size_t nh, const char *body,
                           int crlf, size_t *len)
{
    size_t cap = 4096 + strlen(body) * 2;
    char *m = malloc(cap);
    size_t n = 0;
    size_t i;
    const char *p;

    assert_non_null(m);
    for (i = 0; i < nh; i++) {
        for (p = hdr[order[i]]; *p != '\0'; p++) {
            if (*p == '\n' && crlf) {
                m[n++] = '\r';
            }
            m[n++] = *p;
        }
    }
    for (p = "\n"; *p != '\0'; p++) {
        if (crlf) {
            m[n++] = '\r';
        }
        m[n++] = *p;
    }
    for (p = body; *p != '\0'; p++) {
        if (*p == '\n' && crlf) {
            m[n++] = '\r';
        }
        m[n++] = *p;
    }
    assert_true(n < cap);
    m[n] = '\0';
    *len = n;
    return m;
}

static void test_header_order_and_line_ends(void **state)
{
    static const char *const hdr[] = {
        "From: Alice <a@example.org>\n",
        "To: b@example.org\n",
        "Subject: =?iso-8859-1?Q?Order_=E9t=E9?=\n folded tail\n",
        "MIME-Version: 1.0\n",
        "Content-Type: multipart/alternative;\n boundary=\"B1\"\n",
        "Received: from x by y; Mon, 9 Sep 2002 20:33:36 +0100\n",
        "Content-Transfer-Encoding: 7bit\n",
    };
    static const char body[] = "preamble\n--B1\nContent-Type: text/plain; charset=utf-8\n"
                               "Content-Transfer-Encoding: quoted-printable\n\n"
                               "line one=0D=0Aline two=\n still two\n"
                               "--B1\nContent-Type: text/html\n"
                               "Content-Transfer-Encoding: base64\n\n"
                               "PHA+aHRtbCZuYnNwO3BhcnQ8L3A+DQo8cD5uZXh0PC9wPg0K\n--B1--\n";
    static const size_t fwd[] = {0, 1, 2, 3, 4, 5, 6};
    static const size_t rev[] = {6, 5, 4, 3, 2, 1, 0};
    static const size_t mix[] = {4, 2, 0, 6, 1, 5, 3};
    const size_t *orders[] = {fwd, rev, mix};
    char *first = NULL;
    size_t first_len = 0;
    size_t o;
    int crlf;

    (void)state;
    for (o = 0; o < 3; o++) {
        for (crlf = 0; crlf < 2; crlf++) {
            size_t len;
            size_t n;
            char *m = build_message(hdr, orders[o], 7, body, crlf, &len);
            char *out = decode_mem(m, len, &n);
            free(m);
            if (first == NULL) {
                first = out;
                first_len = n;
                continue;
            }
            assert_int_equal(n, first_len);
            assert_memory_equal(out, first, n);
            nn_free(out);
        }
    }
    assert_string_equal(first, "Order été folded tail\n\nline one\nline two still two\n"
                               "html part\n\nnext");
    nn_free(first);
}

static void test_three_forms_agree(void **state)
{
    static const char *const files[] = {
        "folded.eml",           "subject_b64.eml",     "subject_qp.eml", "base64.eml", "qp.eml",
        "alternative.eml",      "nested.eml",          "latin1.eml",     "cp1252.eml", "html.eml",
        "malformed_base64.eml", "unknown_charset.eml", "no_body.eml",    "mbox.eml"};
    size_t f;
    static const char crlf[] = "Caf\xe9\r\n\r\nline 1\r\nline 2\r\n";
    char *out = NULL;
    size_t n = 0;

    (void)state;
    /* decoding is idempotent: the decoded text of a raw message normalises to itself */
    for (f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *text = decode_file(files[f]);
        len = strlen(text);
        assert_int_equal(mail_decoded_text(text, len, &out, &n, NULL), NN_OK);
        if (n != len || memcmp(out, text, n) != 0) {
            fail_msg("%s: decoded text not stable:\n%s\n---\n%s", files[f], text, out);
        }
        nn_free(out);
        nn_free(text);
    }

    /* the JSON form of html.eml: subject and the HTML body, same text as the raw message */
    {
        size_t len;
        char *raw = read_file("tests/data/mail/html.eml", &len);
        char *from_raw = decode_mem(raw, len, NULL);
        const char *html = strstr(raw, "\n\n") + 2;
        assert_int_equal(mail_subject_body("  html\n reduction ", html, &out, &n, NULL), NN_OK);
        assert_string_equal(out, from_raw);
        nn_free(out);
        nn_free(from_raw);
        free(raw);
    }

    /* decoded text with CRLF line ends and a latin-1 byte: same as the UTF-8 LF form */
    assert_int_equal(mail_decoded_text(crlf, sizeof crlf - 1, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "Café\n\nline 1\nline 2\n");
    nn_free(out);
    assert_int_equal(mail_subject_body("Café", "line 1\nline 2\n", &out, &n, NULL), NN_OK);
    assert_string_equal(out, "Café\n\nline 1\nline 2\n");
    nn_free(out);

    /* no blank line: all body; NULL halves are empty */
    assert_int_equal(mail_decoded_text("just words", 10, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "\n\njust words");
    nn_free(out);
    assert_int_equal(mail_subject_body(NULL, NULL, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "\n\n");
    assert_int_equal(n, 2);
    nn_free(out);
}

/* ------------------------------------------------------------------------------------------ */
/* Limits                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static void test_20mb_message(void **state)
{
    const size_t body_len = (size_t)20 << 20;
    static const char head[] = "From: a@example.org\nSubject: big\nContent-Type: text/plain\n\n";
    size_t hl = strlen(head);
    char *m = malloc(hl + body_len + 1);
    struct mail_limits lim;
    struct nn_err err;
    char *out = NULL;
    size_t n = 0;
    size_t i;

    (void)state;
    assert_non_null(m);
    memcpy(m, head, hl);
    for (i = 0; i < body_len; i++) {
        m[hl + i] = (i % 64 == 63) ? '\n' : (char)('a' + (i % 26));
    }
    m[hl + body_len] = '\0';

    /* default limits: 4 MiB of text, cut, not an error */
    assert_int_equal(mail_to_text(m, hl + body_len, NULL, &out, &n, &err), NN_OK);
    assert_int_equal(n, MAIL_MAX_OUTPUT_DEFAULT);
    assert_memory_equal(out, "big\n\n", 5);
    assert_memory_equal(out + 5, m + hl, n - 5);
    nn_free(out);

    /* a larger output limit gives all of it */
    mail_limits_init(&lim);
    lim.max_output = (size_t)32 << 20;
    assert_int_equal(mail_to_text(m, hl + body_len, &lim, &out, &n, &err), NN_OK);
    assert_int_equal(n, 5 + body_len);
    assert_memory_equal(out + 5, m + hl, body_len);
    nn_free(out);

    /* an input limit below the size: NN_ERANGE and the out-params cleared */
    lim.max_input = (size_t)16 << 20;
    out = (char *)&err;
    n = 7;
    assert_int_equal(mail_to_text(m, hl + body_len, &lim, &out, &n, &err), NN_ERANGE);
    assert_int_equal(err.code, NN_ERANGE);
    assert_null(out);
    assert_int_equal(n, 0);
    free(m);
}

static void test_output_cut_on_char_boundary(void **state)
{
    static const char m[] = "Subject: x\n\n\xc3\xa9\xc3\xa9\xc3\xa9\n";
    struct mail_limits lim;
    char *out = NULL;
    size_t n = 0;

    (void)state;
    mail_limits_init(&lim);
    lim.max_output = 6; /* "x\n\n" + one é (2 bytes) + half of the next */
    assert_int_equal(mail_to_text(m, sizeof m - 1, &lim, &out, &n, NULL), NN_OK);
    assert_int_equal(n, 5);
    assert_string_equal(out, "x\n\n\xc3\xa9");
    nn_free(out);
}

/* A multipart/mixed message with nparts text parts "part <i>". */
static char *many_parts(size_t nparts, size_t *len)
{
    size_t cap = 200 + nparts * 80;
    char *m = malloc(cap);
    size_t n;
    size_t i;

    assert_non_null(m);
    n = (size_t)snprintf(m, cap,
                         "From: a@example.org\nSubject: parts\nMIME-Version: 1.0\n"
                         "Content-Type: multipart/mixed; boundary=\"P\"\n\n");
    for (i = 0; i < nparts; i++) {
        n += (size_t)snprintf(m + n, cap - n, "--P\nContent-Type: text/plain\n\npart %zu\n", i);
    }
    n += (size_t)snprintf(m + n, cap - n, "--P--\n");
    assert_true(n < cap);
    *len = n;
    return m;
}

static void test_part_limit(void **state)
{
    struct nn_err err;
    struct mail_limits lim;
    char *out = NULL;
    size_t n = 0;
    size_t len;
    char *m;

    (void)state;
    m = many_parts(1000, &len);
    assert_int_equal(mail_to_text(m, len, NULL, &out, &n, &err), NN_OK);
    assert_memory_equal(out, "parts\n\npart 0\npart 1\n", 21);
    assert_non_null(strstr(out, "\npart 999"));
    nn_free(out);
    free(m);

    m = many_parts(1001, &len);
    out = (char *)m;
    assert_int_equal(mail_to_text(m, len, NULL, &out, &n, &err), NN_ERANGE);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "1000"));
    mail_limits_init(&lim);
    lim.max_parts = 1001;
    assert_int_equal(mail_to_text(m, len, &lim, &out, &n, &err), NN_OK);
    assert_non_null(strstr(out, "\npart 1000"));
    nn_free(out);
    free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Bad input                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static void test_malformed_base64(void **state)
{
    (void)state;
    expect_file("malformed_base64.eml", "broken base64\n\nHello world! truncated");
}

static void test_unknown_charset(void **state)
{
    (void)state;
    /* unknown charset: UTF-8 where valid, else windows-1252 */
    expect_file("unknown_charset.eml", "unknown charset\n\nplain words survive, café too\n");
}

static void test_no_body(void **state)
{
    char *out = NULL;
    size_t n = 0;

    (void)state;
    expect_file("no_body.eml", "headers only\n\n");
    assert_int_equal(mail_to_text("", 0, NULL, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "\n\n");
    nn_free(out);
    assert_int_equal(mail_to_text(NULL, 0, NULL, &out, &n, NULL), NN_OK);
    assert_string_equal(out, "\n\n");
    nn_free(out);
    assert_int_equal(mail_to_text(NULL, 3, NULL, &out, &n, NULL), NN_EINVAL);
    assert_int_equal(mail_to_text("x", 1, NULL, NULL, &n, NULL), NN_EINVAL);
}

static void test_deep_nesting(void **state)
{
    const size_t depth = 3000;
    size_t cap = 64 + depth * 64;
    char *m = malloc(cap);
    size_t n;
    size_t i;
    char *out;

    (void)state;
    assert_non_null(m);
    n = (size_t)snprintf(m, cap, "Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n");
    for (i = 1; i < depth; i++) {
        n += (size_t)snprintf(m + n, cap - n,
                              "--b%zu\nContent-Type: multipart/mixed; boundary=b%zu\n\n", i - 1, i);
    }
    n += (size_t)snprintf(m + n, cap - n, "--b%zu\nContent-Type: text/plain\n\nleaf\n", depth - 1);
    assert_true(n < cap);
    /* GMime stops nesting at 1024 levels; whatever it keeps, decoding ends and is clean */
    out = decode_mem(m, n, &i);
    assert_memory_equal(out, "deep\n\n", 6);
    assert_true(clean_utf8(out, i));
    nn_free(out);
    free(m);
}

static void test_binary_junk(void **state)
{
    struct nn_rng rng;
    int iter;

    (void)state;
    nn_rng_seed(&rng, 12345);
    for (iter = 0; iter < 300; iter++) {
        size_t len = (size_t)nn_rng_below(&rng, 5000);
        char *m = malloc(len + 64);
        size_t off = 0;
        size_t i;
        char *out = NULL;
        size_t n = 0;

        assert_non_null(m);
        if (iter % 2 == 0) { /* half of them behind plausible headers */
            static const char h[] = "Subject: junk\nContent-Type: text/html; charset=utf-8\n\n";
            memcpy(m, h, sizeof h - 1);
            off = sizeof h - 1;
        }
        for (i = 0; i < len; i++) {
            m[off + i] = (char)nn_rng_below(&rng, 256);
        }
        assert_int_equal(mail_to_text(m, off + len, NULL, &out, &n, NULL), NN_OK);
        assert_true(clean_utf8(out, n));
        nn_free(out);
        assert_int_equal(mail_decoded_text(m, off + len, &out, &n, NULL), NN_OK);
        assert_true(clean_utf8(out, n));
        nn_free(out);
        free(m);
    }
}

static void test_allocation_failures(void **state)
{
    size_t len;
    char *raw = read_file("tests/data/mail/nested.eml", &len);
    long k;
    int ok = 0;

    (void)state;
    for (k = 0; k < 200 && !ok; k++) {
        char *out = (char *)raw;
        size_t n = 9;
        int rc;
        nn_alloc_fail_after(k);
        rc = mail_to_text(raw, len, NULL, &out, &n, NULL);
        nn_alloc_fail_after(-1);
        if (rc == NN_OK) {
            assert_string_equal(out, "nested\n\nfirst plain part\nsecond html part\n"
                                     "third attached text\nfourth forwarded body");
            nn_free(out);
            ok = 1;
        } else {
            assert_int_equal(rc, NN_ENOMEM);
            assert_null(out);
            assert_int_equal(n, 0);
        }
    }
    assert_true(ok);
    assert_true(k > 1); /* at least one failure was injected and survived */
    free(raw);
}

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static const char *const thread_files[] = {"nested.eml", "html.eml", "subject_b64.eml",
                                           "cp1252.eml", "qp.eml",   "alternative.eml"};
#define NTHREAD_FILES (sizeof thread_files / sizeof thread_files[0])

struct thread_job {
    char *raw[NTHREAD_FILES];
    size_t len[NTHREAD_FILES];
    char *want[NTHREAD_FILES];
    int mismatches;
};

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    int round;
    size_t f;

    for (round = 0; round < 40; round++) {
        for (f = 0; f < NTHREAD_FILES; f++) {
            char *out = NULL;
            size_t n = 0;
            if (mail_to_text(job->raw[f], job->len[f], NULL, &out, &n, NULL) != NN_OK ||
                strcmp(out, job->want[f]) != 0) {
                job->mismatches++;
            }
            nn_free(out);
        }
    }
    return NULL;
}

/* Four threads decoding at once give the same texts as one thread (GMime objects per call). */
static void test_threads(void **state)
{
    struct thread_job jobs[4];
    pthread_t tid[4];
    size_t f;
    int t;

    (void)state;
    for (t = 0; t < 4; t++) {
        for (f = 0; f < NTHREAD_FILES; f++) {
            char path[256];
            snprintf(path, sizeof path, "tests/data/mail/%s", thread_files[f]);
            jobs[t].raw[f] = read_file(path, &jobs[t].len[f]);
            jobs[t].want[f] = decode_mem(jobs[t].raw[f], jobs[t].len[f], NULL);
        }
        jobs[t].mismatches = 0;
    }
    for (t = 0; t < 4; t++) {
        assert_int_equal(pthread_create(&tid[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (t = 0; t < 4; t++) {
        assert_int_equal(pthread_join(tid[t], NULL), 0);
        assert_int_equal(jobs[t].mismatches, 0);
        for (f = 0; f < NTHREAD_FILES; f++) {
            free(jobs[t].raw[f]);
            nn_free(jobs[t].want[f]);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* looks_raw                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Reads the next RFC 4180 field of a CSV stream into buf; returns the char that ended it. */
static int csv_field(FILE *f, char **buf, size_t *len, size_t *cap)
{
    int c = fgetc(f);
    int quoted = 0;

    *len = 0;
    if (c == '"') {
        quoted = 1;
        c = fgetc(f);
    }
    for (;; c = fgetc(f)) {
        if (c == EOF) {
            break;
        }
        if (quoted && c == '"') {
            c = fgetc(f);
            if (c != '"') {
                quoted = 0;
            }
        }
        if (!quoted && (c == ',' || c == '\n' || c == EOF)) {
            break;
        }
        if (*len + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 4096;
            *buf = realloc(*buf, *cap);
            assert_non_null(*buf);
        }
        (*buf)[(*len)++] = (char)c;
    }
    if (*buf != NULL) {
        (*buf)[*len] = '\0';
    }
    return c;
}

static void test_looks_raw(void **state)
{
    static const char *const files[] = {
        "folded.eml",           "subject_b64.eml",     "subject_qp.eml", "base64.eml", "qp.eml",
        "alternative.eml",      "nested.eml",          "latin1.eml",     "cp1252.eml", "html.eml",
        "malformed_base64.eml", "unknown_charset.eml", "no_body.eml",    "mbox.eml"};
    static const char *const decoded[] = {
        "Re: Canadians\n\n>>>>> \"R\" == Russell Turpin writes:\n",
        "URGENT: claim your prize\n\nDear friend: you won!\n",
        "Subject: hello\n\nbody\n", /* one header-like line is not a message */
        "From: me\nhello there\n\n",
        "",
        "\n\nno subject\n",
        " Received: indented\nFrom: x\n\n"};
    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    size_t i;
    int rows = 0;

    (void)state;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        size_t n;
        char *raw;
        char *text;
        snprintf(path, sizeof path, "tests/data/mail/%s", files[i]);
        raw = read_file(path, &n);
        if (mail_looks_raw(raw, n) != 1) {
            fail_msg("%s should look raw", files[i]);
        }
        text = decode_mem(raw, n, NULL);
        if (mail_looks_raw(text, strlen(text)) != 0) {
            fail_msg("decoded %s should not look raw", files[i]);
        }
        nn_free(text);
        free(raw);
    }
    assert_int_equal(mail_looks_raw("Return-Path: <a@b>\r\nReceived: x\r\n\r\nbody", 40), 1);
    for (i = 0; i < sizeof decoded / sizeof decoded[0]; i++) {
        if (mail_looks_raw(decoded[i], strlen(decoded[i])) != 0) {
            fail_msg("decoded[%zu] should not look raw", i);
        }
    }
    assert_int_equal(mail_looks_raw(NULL, 10), 0);

    /* the first 50 decoded texts of the spam data set are not raw messages */
    assert_int_equal(system("mkdir -p build && xz -dc tests/data/spamassassin_train.csv.xz "
                            "| head -c 3000000 > build/test_mail_spam_head.csv"),
                     0);
    f = fopen("build/test_mail_spam_head.csv", "rb");
    assert_non_null(f);
    assert_int_equal(csv_field(f, &buf, &len, &cap), ',');
    assert_string_equal(buf, "text");
    assert_int_equal(csv_field(f, &buf, &len, &cap), '\n');
    while (rows < 50) {
        int end = csv_field(f, &buf, &len, &cap);
        assert_int_equal(end, ',');
        if (mail_looks_raw(buf, len) != 0) {
            fail_msg("decoded row %d looks raw: %.80s", rows + 1, buf);
        }
        assert_int_equal(csv_field(f, &buf, &len, &cap), '\n'); /* the label */
        rows++;
    }
    fclose(f);
    free(buf);
}

int main(int argc, char **argv)
{
#if defined(__SANITIZE_THREAD__)
    /*
     * GLib's slice allocator is not instrumented, so under TSan its per-thread magazines read
     * as races. GLib reads G_SLICE before main: set it and start again.
     */
    if (getenv("G_SLICE") == NULL) {
        setenv("G_SLICE", "always-malloc", 1);
        execv("/proc/self/exe", argv);
    }
#endif
    (void)argc;
    (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folded_headers),
        cmocka_unit_test(test_encoded_word_subjects),
        cmocka_unit_test(test_mbox_from_line),
        cmocka_unit_test(test_base64_body),
        cmocka_unit_test(test_qp_body),
        cmocka_unit_test(test_multipart_alternative),
        cmocka_unit_test(test_nested_multipart),
        cmocka_unit_test(test_latin1_and_cp1252),
        cmocka_unit_test(test_html_part),
        cmocka_unit_test(test_html_to_text),
        cmocka_unit_test(test_keep_html_flag),
        cmocka_unit_test(test_header_order_and_line_ends),
        cmocka_unit_test(test_three_forms_agree),
        cmocka_unit_test(test_20mb_message),
        cmocka_unit_test(test_output_cut_on_char_boundary),
        cmocka_unit_test(test_part_limit),
        cmocka_unit_test(test_malformed_base64),
        cmocka_unit_test(test_unknown_charset),
        cmocka_unit_test(test_no_body),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_binary_junk),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_looks_raw),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
