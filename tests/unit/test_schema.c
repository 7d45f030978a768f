/*
 * test_schema: column type inference on mixed columns (numeric with missing cells,
 * categorical, text), label kinds (strings, few integers, many numbers), class order,
 * overrides and their errors, and the per-row label indices.
 */
#include "tab/schema.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/alloc.h"
#include "nn/train.h"

/* Infers the schema of text; returns the code, *out the schema. */
static int infer(const char *text, const struct tab_schema_opts *o, struct tab_schema **out,
                 struct nn_err *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    struct tab_csv *r = NULL;
    nn_err_clear(err);
    int rc = tab_csv_open(f, NULL, &r, err);
    if (rc == 0) {
        rc = tab_schema_infer(r, o, out, err);
    }
    tab_csv_close(r);
    fclose(f);
    return rc;
}

static void test_parse_number(void **state)
{
    (void)state;
    double v = 0;
    assert_int_equal(tab_schema_parse_number("1.5", &v), 1);
    assert_true(v == 1.5);
    assert_int_equal(tab_schema_parse_number(" -2e3 ", &v), 1);
    assert_true(v == -2000.0);
    assert_int_equal(tab_schema_parse_number(".5", &v), 1);
    assert_int_equal(tab_schema_parse_number("", &v), 0);
    assert_int_equal(tab_schema_parse_number("  ", &v), 0);
    assert_int_equal(tab_schema_parse_number("abc", &v), -1);
    assert_int_equal(tab_schema_parse_number("1x", &v), -1);
    assert_int_equal(tab_schema_parse_number("nan", &v), -1);
    assert_int_equal(tab_schema_parse_number("inf", &v), -1);
    assert_int_equal(tab_schema_parse_number("0x10", &v), -1);
    assert_int_equal(tab_schema_parse_number("1e999", &v), -1);
    assert_int_equal(tab_schema_parse_number("1e39", &v), -1); /* beyond float */
    assert_int_equal(tab_schema_parse_number("3e38", &v), 1);
    assert_int_equal(tab_schema_parse_number("1.", &v), 1);
    assert_true(v == 1.0);
    assert_int_equal(tab_schema_parse_number("1.2.3", &v), -1);
    assert_int_equal(tab_schema_parse_number("-", &v), -1);
    assert_int_equal(tab_schema_parse_number("1 2", &v), -1);
    /* the fast path gives strtod's value, bit for bit */
    uint64_t x = 7;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int nd = 1 + (int)((x >> 20) % 18), dot = (int)((x >> 30) % (unsigned)(nd + 1));
        size_t n = 0;
        if (x >> 63) {
            buf[n++] = '-';
        }
        uint64_t y = x;
        for (int k = 0; k < nd; k++) {
            if (k == dot && k > 0) {
                buf[n++] = '.';
            }
            buf[n++] = (char)('0' + y % 10);
            y = y / 10 + (x >> 40);
        }
        buf[n] = '\0';
        double want = strtod(buf, NULL);
        assert_int_equal(tab_schema_parse_number(buf, &v), 1);
        assert_memory_equal(&v, &want, sizeof(v));
    }
}

static void test_mixed_columns(void **state)
{
    (void)state;
    /* num: numeric with a missing cell; color: categorical; msg: long text */
    char text[8192];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "num,color,msg,label\n");
    const char *colors[] = {"red", "blue", "green"};
    for (int i = 0; i < 30; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "%s,%s,\"message number %d is rather long, with words and "
                              "more words than a category could ever hold\",%s\n",
                              i == 4 ? "" : (i % 2 ? "1.5" : "-3"), colors[i % 3], i,
                              i % 2 ? "spam" : "ham");
    }
    struct tab_schema *s = NULL;
    struct nn_err err;
    assert_int_equal(infer(text, NULL, &s, &err), 0);
    assert_int_equal(s->n_cols, 4);
    assert_int_equal(s->rows, 30);
    assert_int_equal(s->label, 3);
    assert_int_equal(s->cols[0].type, TAB_COL_NUMERIC);
    assert_int_equal(s->cols[1].type, TAB_COL_CATEGORICAL);
    assert_int_equal(s->cols[1].n_categories, 3);
    assert_string_equal(s->cols[1].categories[0], "blue"); /* sorted */
    assert_string_equal(s->cols[1].categories[1], "green");
    assert_string_equal(s->cols[1].categories[2], "red");
    assert_int_equal(s->cols[2].type, TAB_COL_TEXT);
    assert_int_equal(s->task, NN_TASK_BINARY);
    assert_int_equal(s->n_classes, 2);
    assert_string_equal(s->classes[0], "ham");
    assert_string_equal(s->classes[1], "spam");
    for (int i = 0; i < 30; i++) {
        assert_true(s->labels[i] == (float)(i % 2));
    }
    assert_int_equal(tab_schema_class_index(s, "spam"), 1);
    assert_int_equal(tab_schema_class_index(s, "eggs"), -1);
    assert_string_equal(tab_col_type_name(s->cols[2].type), "text");
    tab_schema_free(s);
}

static void test_many_short_values_is_text(void **state)
{
    (void)state;
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof(text), "id,y\n");
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "u%d,%d\n", i % 70, i % 3);
    }
    struct tab_schema *s = NULL;
    struct nn_err err;
    assert_int_equal(infer(text, NULL, &s, &err), 0);
    assert_int_equal(s->cols[0].type, TAB_COL_TEXT);
    assert_int_equal(s->task, NN_TASK_MULTICLASS);
    assert_int_equal(s->n_classes, 3);
    tab_schema_free(s);
}

static void test_numeric_labels(void **state)
{
    (void)state;
    struct tab_schema *s = NULL;
    struct nn_err err;
    /* integers, numeric order and as written: "10" after "9", "0" first */
    assert_int_equal(infer("x,y\n1,10\n2,9\n3,0\n4,9\n", NULL, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_MULTICLASS);
    assert_int_equal(s->n_classes, 3);
    assert_string_equal(s->classes[0], "0");
    assert_string_equal(s->classes[1], "9");
    assert_string_equal(s->classes[2], "10");
    assert_true(s->labels[0] == 2.0f);
    assert_true(s->labels[1] == 1.0f);
    assert_true(s->labels[2] == 0.0f);
    tab_schema_free(s);
    /* 0/1: binary */
    assert_int_equal(infer("x,y\n1,1\n2,0\n", NULL, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_BINARY);
    assert_string_equal(s->classes[0], "0");
    tab_schema_free(s);
    /* non-integers: regression with raw targets */
    assert_int_equal(infer("x,y\n1,1.5\n2,2.25\n3,-7\n", NULL, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_REGRESSION);
    assert_int_equal(s->n_classes, 0);
    assert_true(s->labels[1] == 2.25f);
    assert_true(s->labels[2] == -7.0f);
    tab_schema_free(s);
    /* many distinct integers: regression */
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "x,y\n");
    for (int i = 0; i < 25; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%d,%d\n", i, i * 3);
    }
    assert_int_equal(infer(text, NULL, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_REGRESSION);
    assert_true(s->labels[24] == 72.0f);
    tab_schema_free(s);
    /* ... unless classification is asked for */
    struct tab_schema_opts o = {NULL, NN_TASK_BINARY, NULL, NULL, NULL, NULL};
    assert_int_equal(infer(text, &o, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_MULTICLASS);
    assert_int_equal(s->n_classes, 25);
    assert_string_equal(s->classes[24], "72");
    tab_schema_free(s);
    /* forced regression on 0/1 labels */
    o.task = NN_TASK_REGRESSION;
    assert_int_equal(infer("x,y\n1,1\n2,0\n", &o, &s, &err), 0);
    assert_int_equal(s->task, NN_TASK_REGRESSION);
    tab_schema_free(s);
    /* forced regression on words: error at the first word */
    assert_int_equal(infer("x,y\n1,1\n2,abc\n3,4\n", &o, &s, &err), NN_EINVAL);
    assert_null(s);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 2);
    assert_string_equal(err.field, "y");
}

static void test_label_errors(void **state)
{
    (void)state;
    struct tab_schema *s = NULL;
    struct nn_err err;
    /* empty label cell: its line, after a quoted newline */
    assert_int_equal(infer("t,y\n\"a\nb\",x\nc,\nd,z\n", NULL, &s, &err), NN_EINVAL);
    assert_null(s);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.col, 2);
    assert_string_equal(err.field, "y");
    /* one class */
    assert_int_equal(infer("x,y\n1,a\n2,a\n", NULL, &s, &err), NN_EINVAL);
    assert_string_equal(err.field, "y");
    /* unknown label column */
    struct tab_schema_opts o = {"nope", -1, NULL, NULL, NULL, NULL};
    assert_int_equal(infer("x,y\n1,a\n2,b\n", &o, &s, &err), NN_EINVAL);
    assert_string_equal(err.field, "nope");
    /* a label that is not last */
    o.label = "x";
    assert_int_equal(infer("x,y\na,1\nb,2\n", &o, &s, &err), 0);
    assert_int_equal(s->label, 0);
    assert_int_equal(s->cols[1].type, TAB_COL_NUMERIC);
    assert_string_equal(s->classes[1], "b");
    tab_schema_free(s);
    /* bad csv is passed through with its location */
    assert_int_equal(infer("x,y\n1,a\n2,b,c\n", NULL, &s, &err), NN_EFORMAT);
    assert_int_equal(err.line, 3);
}

static void test_overrides(void **state)
{
    (void)state;
    struct tab_schema *s = NULL;
    struct nn_err err;
    const char *t = "a,b,c,d,y\n1,x,2,3,p\n2,y,2,4,q\n1,x,5,5,p\n";
    struct tab_schema_opts o = {NULL, -1, "b", " a ,c", "d", NULL};
    assert_int_equal(infer(t, &o, &s, &err), 0);
    assert_int_equal(s->cols[0].type, TAB_COL_CATEGORICAL);
    assert_int_equal(s->cols[0].n_categories, 2);
    assert_string_equal(s->cols[0].categories[1], "2");
    assert_int_equal(s->cols[1].type, TAB_COL_TEXT);
    assert_int_equal(s->cols[2].type, TAB_COL_CATEGORICAL);
    assert_int_equal(s->cols[3].type, TAB_COL_IGNORED);
    tab_schema_free(s);
    struct tab_schema_opts bad = {NULL, -1, NULL, NULL, "d,zz", NULL};
    assert_int_equal(infer(t, &bad, &s, &err), NN_EINVAL);
    assert_null(s);
    assert_string_equal(err.field, "zz");
    struct tab_schema_opts twice = {NULL, -1, "a", "a", NULL, NULL};
    assert_int_equal(infer(t, &twice, &s, &err), NN_EINVAL);
    assert_string_equal(err.field, "a");
    struct tab_schema_opts lab = {NULL, -1, NULL, NULL, "y", NULL};
    assert_int_equal(infer(t, &lab, &s, &err), NN_EINVAL);
    assert_string_equal(err.field, "y");
}

static void test_real_files(void **state)
{
    (void)state;
    struct {
        const char *path;
        size_t rows, cols;
        int task, classes;
    } cases[] = {
        {"tests/data/iris_train.csv", 120, 5, NN_TASK_MULTICLASS, 3},
        {"tests/data/diabetes_train.csv", 353, 11, NN_TASK_REGRESSION, 0},
        {"tests/data/xor.csv", 4, 3, NN_TASK_BINARY, 2},
        {"tests/data/digits_train.csv", 1437, 65, NN_TASK_MULTICLASS, 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = fopen(cases[i].path, "r");
        assert_non_null(f);
        struct tab_csv *r = NULL;
        struct tab_schema *s = NULL;
        struct nn_err err;
        assert_int_equal(tab_csv_open(f, NULL, &r, &err), 0);
        assert_int_equal(tab_schema_infer(r, NULL, &s, &err), 0);
        assert_int_equal(s->rows, cases[i].rows);
        assert_int_equal(s->n_cols, cases[i].cols);
        assert_int_equal(s->task, cases[i].task);
        assert_int_equal(s->n_classes, cases[i].classes);
        for (size_t c = 0; c + 1 < s->n_cols; c++) {
            /* digits: three pixels are 0 in every image */
            if (s->cols[c].type == TAB_COL_IGNORED) {
                assert_int_equal(cases[i].classes, 10);
                assert_int_equal(s->cols[c].n_distinct, 1);
                assert_non_null(strstr(s->cols[c].reason, "constant"));
                continue;
            }
            assert_int_equal(s->cols[c].type, TAB_COL_NUMERIC);
        }
        if (cases[i].classes == 10) {
            assert_string_equal(s->classes[9], "9");
        }
        tab_schema_free(s);
        tab_csv_close(r);
        fclose(f);
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    const char *t = "a,b,c,y\n1,x,long text here,p\n2,y,more,q\n";
    for (long k = 0; k < 60; k++) {
        FILE *f = fmemopen((void *)t, strlen(t), "r");
        struct tab_csv *r = NULL;
        struct tab_schema *s = NULL;
        assert_int_equal(tab_csv_open(f, NULL, &r, NULL), 0);
        nn_alloc_fail_after(k);
        int rc = tab_schema_infer(r, NULL, &s, NULL);
        nn_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == NN_ENOMEM);
        if (rc == 0) {
            assert_int_equal(s->n_classes, 2);
        } else {
            assert_null(s);
        }
        tab_schema_free(s);
        tab_csv_close(r);
        fclose(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_mixed_columns),
        cmocka_unit_test(test_many_short_values_is_text),
        cmocka_unit_test(test_numeric_labels),
        cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
