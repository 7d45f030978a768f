/*
 * test_csv: the RFC 4180 reader — quoting, line ends, BOM, delimiters, limits, rewind, and
 * every error with its exact line and column (quoted newlines included, so line counting is
 * checked). Ends with a deterministic random-bytes loop so ASan covers odd inputs.
 */
#include "tab/csv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/alloc.h"
#include "nn/utf8.h"

struct src {
    FILE *f;
    struct tab_csv *r;
};

/* Opens text (n bytes) as a CSV; returns tab_csv_open's code. */
static int open_n(struct src *s, const char *text, size_t n, const struct tab_csv_opts *o,
                  struct nn_err *err)
{
    s->r = NULL;
    s->f = fmemopen((void *)text, n, "r");
    assert_non_null(s->f);
    return tab_csv_open(s->f, o, &s->r, err);
}

static int open_s(struct src *s, const char *text, const struct tab_csv_opts *o, struct nn_err *err)
{
    return open_n(s, text, strlen(text), o, err);
}

static void close_s(struct src *s)
{
    tab_csv_close(s->r);
    fclose(s->f);
}

static void expect_field(struct src *s, size_t i, const char *want)
{
    size_t len = 99;
    const char *v = tab_csv_field(s->r, i, &len);
    assert_non_null(v);
    assert_string_equal(v, want);
    assert_int_equal(len, strlen(want));
}

/* Reads records of n bytes of text until an error; checks its code, line, column and field. */
static void expect_error_n(const char *text, size_t n, const struct tab_csv_opts *o, int code,
                           long line, long col, const char *field)
{
    struct src s;
    struct nn_err err;
    nn_err_clear(&err);
    int rc = open_n(&s, text, n, o, &err);
    if (rc == 0) {
        while ((rc = tab_csv_next(s.r, &err)) == 1) {
        }
    }
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_int_equal(err.line, line);
    assert_int_equal(err.col, col);
    assert_string_equal(err.field, field ? field : "");
    assert_true(strlen(err.msg) > 0);
    close_s(&s);
}

static void expect_error(const char *text, const struct tab_csv_opts *o, int code, long line,
                         long col, const char *field)
{
    expect_error_n(text, strlen(text), o, code, line, col, field);
}

static void test_basic(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    assert_int_equal(open_s(&s, "a,b,c\n1,2,3\n4,,6\n", NULL, &err), 0);
    assert_int_equal(tab_csv_ncols(s.r), 3);
    assert_string_equal(tab_csv_colname(s.r, 1), "b");
    assert_int_equal(tab_csv_find(s.r, "c"), 2);
    assert_int_equal(tab_csv_find(s.r, "zz"), -1);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 2);
    expect_field(&s, 0, "1");
    expect_field(&s, 2, "3");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 3);
    expect_field(&s, 1, "");
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    assert_int_equal(tab_csv_rows(s.r), 2);
    close_s(&s);
}

static void test_quotes(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    const char *t = "name,text\n"
                    "\"x\",\"a \"\"quoted\"\", field\"\n"
                    "y,\"two\nlines, with comma\"\n"
                    "\"\",\"\"\n"
                    "z,plain\n";
    assert_int_equal(open_s(&s, t, NULL, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 0, "x");
    expect_field(&s, 1, "a \"quoted\", field");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 3);
    expect_field(&s, 1, "two\nlines, with comma");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 5); /* the quoted newline counted */
    expect_field(&s, 0, "");
    expect_field(&s, 1, "");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 6);
    expect_field(&s, 1, "plain");
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    close_s(&s);
}

static void test_crlf_bom_no_final_newline(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    const char *t = "\xEF\xBB\xBF"
                    "id,v\r\n1,\"a\r\nb\"\r\n2,x";
    assert_int_equal(open_s(&s, t, NULL, &err), 0);
    assert_string_equal(tab_csv_colname(s.r, 0), "id"); /* BOM stripped */
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 1, "a\r\nb");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_line(s.r), 4);
    expect_field(&s, 0, "2");
    expect_field(&s, 1, "x"); /* no final newline: fine */
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    close_s(&s);
}

static void test_blank_final_line(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    assert_int_equal(open_s(&s, "a,b\n1,2\n\n", NULL, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    assert_int_equal(tab_csv_rows(s.r), 1);
    close_s(&s);
    assert_int_equal(open_s(&s, "a,b\r\n1,2\r\n\r\n\r\n", NULL, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    close_s(&s);
    /* a trailing empty field after a delimiter is a field */
    assert_int_equal(open_s(&s, "a,b\n1,", NULL, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 1, "");
    close_s(&s);
}

static void test_delims(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    struct tab_csv_opts o;
    tab_csv_opts_default(&o);
    o.delim = ';';
    assert_int_equal(open_s(&s, "a;b\n1,5;\"x;y\"\n", &o, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 0, "1,5");
    expect_field(&s, 1, "x;y");
    close_s(&s);
    o.delim = '\t';
    assert_int_equal(open_s(&s, "a\tb c\n1\t2 3\n", &o, &err), 0);
    assert_string_equal(tab_csv_colname(s.r, 1), "b c");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 1, "2 3");
    close_s(&s);
    o.delim = '|';
    assert_int_equal(open_s(&s, "a|b\n", &o, &err), NN_EINVAL);
    assert_null(s.r);
    close_s(&s);
}

static void test_errors(void **state)
{
    (void)state;
    struct tab_csv_opts o;
    tab_csv_opts_default(&o);
    /* too many fields on line 3 */
    expect_error("a,b\n1,2\n3,4,5\n", NULL, NN_EFORMAT, 3, 3, NULL);
    /* too few: the missing column is named */
    expect_error("a,b,c\n1,2,3\n4,5\n", NULL, NN_EFORMAT, 3, 3, "c");
    /* a quoted newline moves the next record's line */
    expect_error("a,b\n\"x\ny\",2\n1\n", NULL, NN_EFORMAT, 4, 2, "b");
    expect_error("a,b\n1,\"p\nq\nr\"\n1,2,3\n", NULL, NN_EFORMAT, 5, 3, NULL);
    /* unclosed quote at end of file: the line where the record starts */
    expect_error("a,b\n1,2\n3,\"open\nmore\n", NULL, NN_EFORMAT, 3, 2, "b");
    /* a character after a closing quote */
    expect_error("a,b\n1,\"x\"y\n", NULL, NN_EFORMAT, 2, 2, "b");
    /* empty file, BOM alone, blank lines only */
    expect_error("", NULL, NN_EFORMAT, 1, 1, NULL);
    expect_error("\xEF\xBB\xBF", NULL, NN_EFORMAT, 1, 1, NULL);
    expect_error("\n\n", NULL, NN_EFORMAT, 1, 1, NULL);
    /* header alone */
    expect_error("a,b\n", NULL, NN_EFORMAT, 2, 1, NULL);
    expect_error("a,b", NULL, NN_EFORMAT, 1, 1, NULL);
    /* duplicate and empty header names */
    expect_error("a,b,a\n1,2,3\n", NULL, NN_EFORMAT, 1, 3, "a");
    expect_error("a,,c\n1,2,3\n", NULL, NN_EFORMAT, 1, 2, NULL);
    expect_error("\"\"\n1\n", NULL, NN_EFORMAT, 1, 1, NULL);    /* a lone column needs a name */
    expect_error(",a,\n1,2,3\n", NULL, NN_EFORMAT, 1, 3, NULL); /* only the first may lack one */
    /* blank line inside the data */
    expect_error("a,b\n1,2\n\n3,4\n", NULL, NN_EFORMAT, 3, 1, NULL);
    /* limits: field length, columns, rows */
    o.max_field = 4;
    expect_error("a,b\n1,1234\n1,12345\n", &o, NN_ERANGE, 3, 2, "b");
    expect_error("a,b\n1,\"12\n345\"\n", &o, NN_ERANGE, 2, 2, "b");
    expect_error("abcde,b\n1,2\n", &o, NN_ERANGE, 1, 1, NULL);
    tab_csv_opts_default(&o);
    o.max_cols = 2;
    expect_error("a,b,c\n1,2,3\n", &o, NN_ERANGE, 1, 3, NULL);
    tab_csv_opts_default(&o);
    o.max_rows = 2;
    expect_error("a\n1\n2\n3\n", &o, NN_ERANGE, 4, 1, NULL);
}

/* A NUL byte would cut the C string of a cell ("set\0osa" read as "set"), and bytes that
 * are not UTF-8 would reach the store and JSON replies: both are errors at their line and
 * column, quoted or not, in the header or the data; well-formed UTF-8 passes whole. */
static void test_nul_and_utf8(void **state)
{
    (void)state;
    static const char nul_cell[] = "a,species\n1,setosa\n2,set\0osa\n";
    static const char nul_quoted[] = "a,species\n1,\"x\n\0\"\n";
    static const char nul_header[] = "a,spe\0cies\n1,2\n";
    expect_error_n(nul_cell, sizeof(nul_cell) - 1, NULL, NN_EFORMAT, 3, 2, "species");
    expect_error_n(nul_quoted, sizeof(nul_quoted) - 1, NULL, NN_EFORMAT, 2, 2, "species");
    expect_error_n(nul_header, sizeof(nul_header) - 1, NULL, NN_EFORMAT, 1, 2, NULL);
    expect_error("a,spe\xff\xfe"
                 "cies\n1,2\n",
                 NULL, NN_EFORMAT, 1, 2, NULL);
    expect_error("a,species\n1,setosa\n2,set\xffosa\n", NULL, NN_EFORMAT, 3, 2, "species");
    expect_error("a,b\n1,\"caf\xc3\"\n", NULL, NN_EFORMAT, 2, 2, "b");      /* cut sequence */
    expect_error("a,b\n1,\xc0\xaf\n", NULL, NN_EFORMAT, 2, 2, "b");         /* overlong '/' */
    expect_error("a,b\n1,\xed\xa0\x80\n", NULL, NN_EFORMAT, 2, 2, "b");     /* surrogate */
    expect_error("a,b\n1,\xf4\x90\x80\x80\n", NULL, NN_EFORMAT, 2, 2, "b"); /* > U+10FFFF */

    struct src s;
    struct nn_err err;
    nn_err_clear(&err);
    assert_int_equal(open_s(&s,
                            "caf\xc3\xa9"
                            ",b\n\xe2\x82\xac"
                            ",\xf0\x9f\x98\x80\n",
                            NULL, &err),
                     0);
    assert_string_equal(tab_csv_colname(s.r, 0), "caf\xc3\xa9");
    assert_int_equal(tab_csv_next(s.r, &err), 1);
    expect_field(&s, 0, "\xe2\x82\xac");
    expect_field(&s, 1, "\xf0\x9f\x98\x80");
    close_s(&s);
}

static void test_allow_no_rows(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    struct tab_csv_opts o;
    tab_csv_opts_default(&o);
    o.allow_no_rows = 1;
    assert_int_equal(open_s(&s, "a,b\n", &o, &err), 0);
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    close_s(&s);
}

static void test_rewind(void **state)
{
    (void)state;
    struct src s;
    struct nn_err err;
    assert_int_equal(open_s(&s, "\xEF\xBB\xBFh1,h2\n\"a\nb\",1\nc,2\n", NULL, &err), 0);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(tab_csv_next(s.r, &err), 1);
        assert_int_equal(tab_csv_line(s.r), 2);
        expect_field(&s, 0, "a\nb");
        assert_int_equal(tab_csv_next(s.r, &err), 1);
        assert_int_equal(tab_csv_line(s.r), 4);
        expect_field(&s, 0, "c");
        assert_int_equal(tab_csv_next(s.r, &err), 0);
        assert_int_equal(tab_csv_rows(s.r), 2);
        assert_int_equal(tab_csv_rewind(s.r, &err), 0);
    }
    close_s(&s);
}

/* A pipe streams fine but cannot be rewound: NN_EIO, not a wrong second pass. */
static void test_pipe(void **state)
{
    (void)state;
    FILE *p = popen("printf 'a,b\\n1,2\\n3,4\\n'", "r");
    assert_non_null(p);
    struct tab_csv *r = NULL;
    struct nn_err err;
    assert_int_equal(tab_csv_open(p, NULL, &r, &err), 0);
    assert_int_equal(tab_csv_next(r, &err), 1);
    assert_int_equal(tab_csv_next(r, &err), 1);
    assert_string_equal(tab_csv_field(r, 1, NULL), "4");
    assert_int_equal(tab_csv_next(r, &err), 0);
    assert_int_equal(tab_csv_rewind(r, &err), NN_EIO);
    tab_csv_close(r);
    pclose(p);
    struct tab_csv *none = (struct tab_csv *)&err;
    assert_int_equal(tab_csv_open(NULL, NULL, &none, &err), NN_EINVAL);
    assert_null(none);
}

/* Records spanning many buffer refills, with quotes and CRLF at every alignment. */
static void test_large(void **state)
{
    (void)state;
    size_t n = 30000, cap = n * 40 + 64, len = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    len += (size_t)snprintf(t + len, cap - len, "k,v\r\n");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(t + len, cap - len, "%zu,\"q\"\"%zu\r\nz\"\r\n", i, i * 7);
    }
    struct src s;
    struct nn_err err;
    assert_int_equal(open_n(&s, t, len, NULL, &err), 0);
    char want[64];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tab_csv_next(s.r, &err), 1);
        assert_int_equal(tab_csv_line(s.r), (long)(2 + 2 * i));
        snprintf(want, sizeof(want), "q\"%zu\r\nz", i * 7);
        expect_field(&s, 1, want);
    }
    assert_int_equal(tab_csv_next(s.r, &err), 0);
    close_s(&s);
    free(t);
}

/* Random bytes from a small alphabet: never crashes, errors carry a line, rows stay bounded. */
static void test_random_bytes(void **state)
{
    (void)state;
    const char alpha[] = "ab,;\"\n\r\t1 ";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char buf[96];
    for (int it = 0; it < 10000; it++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = (size_t)(x % sizeof(buf));
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (x & 15) == 15 ? (char)(x >> 8) : alpha[(x >> 4) % (sizeof(alpha) - 1)];
        }
        struct tab_csv_opts o;
        tab_csv_opts_default(&o);
        o.max_field = 16;
        o.delim = (it & 1) ? ',' : ';';
        struct src s;
        struct nn_err err;
        nn_err_clear(&err);
        int rc = open_n(&s, n ? buf : "", n, &o, &err);
        if (rc == 0) {
            size_t nc = tab_csv_ncols(s.r);
            while ((rc = tab_csv_next(s.r, &err)) == 1) {
                for (size_t i = 0; i < nc; i++) {
                    size_t len;
                    const char *v = tab_csv_field(s.r, i, &len);
                    assert_non_null(v);
                    assert_true(len <= 16);
                    assert_int_equal(strlen(v), len);         /* no NUL inside */
                    assert_true(nn_utf8_valid(v, len, NULL)); /* UTF-8 only */
                }
            }
        }
        if (rc < 0) {
            assert_true(err.line >= 1);
            assert_true(err.line <= (long)n + 2);
        }
        close_s(&s);
    }
}

/* Each allocation made by open and next fails in turn: an error, never a crash or leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    const char *t = "a,b\n1,\"xx\"\n";
    for (long k = 0; k < 20; k++) {
        struct src s;
        struct nn_err err;
        nn_alloc_fail_after(k);
        int rc = open_s(&s, t, NULL, &err);
        if (rc == 0) {
            rc = tab_csv_next(s.r, &err);
        }
        nn_alloc_fail_after(-1);
        assert_true(rc == 1 || rc == NN_ENOMEM);
        close_s(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_crlf_bom_no_final_newline),
        cmocka_unit_test(test_blank_final_line),
        cmocka_unit_test(test_delims),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nul_and_utf8),
        cmocka_unit_test(test_allow_no_rows),
        cmocka_unit_test(test_rewind),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_large),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
