/*
 * test_na: the missing-value rule — the default markers, exact comparison after trimming,
 * a replaced list and its errors — and what the schema makes of markers and of columns that
 * are not features (identifiers, constants).
 */
#include "tab/na.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nn/train.h"
#include "tab/schema.h"

static const char default_spec[] =
    "#N/A,#N/A N/A,#NA,-1.#IND,-1.#QNAN,-NaN,-nan,1.#IND,1.#QNAN,<NA>,N/A,NA,NULL,NaN,None,n/a,"
    "nan,null,?";

static void test_default_list(void **state)
{
    struct tab_na na;
    (void)state;
    /* the static default is what parsing its own list gives, first-byte bitmap included */
    assert_int_equal(tab_na_parse(default_spec, &na, NULL), 0);
    assert_memory_equal(&na, tab_na_default(), sizeof(na));
    const char *missing[] = {"",    " ",    "NA",   " NA ", "\tNaN", "nan",  "<NA>",
                             "N/A", "null", "NULL", "None", "?",     "#N/A", NULL};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        assert_true(tab_na_is(NULL, missing[i]));
    }
    const char *present[] = {"na", "N A", "NAN", "NA1", "none", "??", "0", "1.5", "-", "#N", "1"};
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
        assert_false(tab_na_is(NULL, present[i]));
    }
}

static void test_custom_list(void **state)
{
    struct tab_na na;
    struct nn_err err;
    char spec[TAB_NA_MAX_SPEC], big[200];
    (void)state;
    assert_int_equal(tab_na_parse(" -999 , missing,,", &na, &err), 0);
    assert_int_equal(na.n, 2);
    assert_true(tab_na_is(&na, "-999"));
    assert_true(tab_na_is(&na, " missing"));
    assert_true(tab_na_is(&na, ""));    /* empty is always missing */
    assert_false(tab_na_is(&na, "NA")); /* the list replaces the default */
    assert_false(tab_na_is(&na, "-9990"));
    tab_na_spec(&na, spec, sizeof(spec));
    assert_string_equal(spec, "-999,missing");
    /* an empty list: only empty cells are missing */
    assert_int_equal(tab_na_parse("", &na, &err), 0);
    assert_int_equal(na.n, 0);
    assert_false(tab_na_is(&na, "?"));
    /* errors name the parameter */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(tab_na_parse(big, &na, &err), NN_EINVAL);
    assert_string_equal(err.field, "na_values");
    assert_int_equal(tab_na_parse("a\x01", &na, &err), NN_EINVAL);
    size_t o = 0;
    for (int i = 0; i <= TAB_NA_MAX; i++) {
        o += (size_t)snprintf(big + o, sizeof(big) - o, "%d,", i);
    }
    assert_int_equal(tab_na_parse(big, &na, &err), NN_EINVAL);
}

static int infer(const char *text, const struct tab_schema_opts *o, struct tab_schema **out,
                 struct nn_err *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    struct tab_csv *r = NULL;
    assert_non_null(f);
    int rc = tab_csv_open(f, NULL, &r, err);
    if (rc == 0) {
        rc = tab_schema_infer(r, o, out, err);
    }
    tab_csv_close(r);
    fclose(f);
    return rc;
}

/* A file as R's write.csv writes it: quoted row names in a column named "", NA cells, quoted
   strings; markers never decide the type. */
static void test_markers_keep_types(void **state)
{
    char text[8192];
    struct tab_schema *s = NULL;
    struct nn_err err;
    (void)state;
    size_t n = (size_t)snprintf(text, sizeof(text), "\"\",\"x\",\"colour\",\"mail\",\"k\",\"y\"\n");
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "\"%d\",%s,\"%s\",\"u%d@example.org\",7,\"%s\"\n", i + 1,
                              i % 5 == 0 ? "NA" : (i % 7 == 0 ? "?" : "1.5"),
                              i % 4 == 0 ? "NA" : (i % 2 ? "red" : "blue"), i, i % 3 ? "a" : "b");
    }
    assert_int_equal(infer(text, NULL, &s, &err), 0);
    assert_int_equal(s->cols[0].type, TAB_COL_IGNORED); /* row names */
    assert_non_null(strstr(s->cols[0].reason, "row id"));
    assert_int_equal(s->cols[1].type, TAB_COL_NUMERIC);
    assert_int_equal(s->cols[1].n_missing, 8 + 4); /* NA every 5th, ? every 7th (not 5th) */
    assert_int_equal(s->cols[1].n_distinct, 1);
    assert_int_equal(s->cols[2].type, TAB_COL_CATEGORICAL);
    assert_int_equal(s->cols[2].n_categories, 2); /* NA is no category */
    assert_int_equal(s->cols[2].n_missing, 10);
    assert_int_equal(s->cols[3].type, TAB_COL_IGNORED); /* e-mail addresses */
    assert_non_null(strstr(s->cols[3].reason, "identifier"));
    assert_int_equal(s->cols[3].n_distinct, 40);
    assert_int_equal(s->cols[4].type, TAB_COL_IGNORED); /* constant */
    assert_non_null(strstr(s->cols[4].reason, "constant"));
    tab_schema_free(s);
    /* the same with markers replaced: NA is a word, so x is not numeric */
    struct tab_na na;
    assert_int_equal(tab_na_parse("?", &na, &err), 0);
    struct tab_schema_opts o = {NULL, -1, NULL, NULL, NULL, &na};
    assert_int_equal(infer(text, &o, &s, &err), 0);
    assert_int_equal(s->cols[1].type, TAB_COL_CATEGORICAL);
    tab_schema_free(s);
    /* overrides win over the identifier rule */
    struct tab_schema_opts keep = {NULL, -1, NULL, "mail", NULL, NULL};
    assert_int_equal(infer(text, &keep, &s, &err), 0);
    assert_int_equal(s->cols[3].type, TAB_COL_CATEGORICAL);
    tab_schema_free(s);
    /* a missing label cell is an error naming the line */
    assert_int_equal(infer("x,y\n1,a\n2,NA\n3,b\n", NULL, &s, &err), NN_EINVAL);
    assert_int_equal(err.line, 3);
    assert_null(s);
}

/* Distinct numbers are features, and so are integers that do not form a row id. */
static void test_not_identifiers(void **state)
{
    char text[8192];
    struct tab_schema *s = NULL;
    struct nn_err err;
    (void)state;
    size_t n = (size_t)snprintf(text, sizeof(text), "a,x,count,y\n");
    for (int i = 0; i < 30; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%d.25,%d,%d,%s\n", i, i * 3, i + 1,
                              i % 2 ? "p" : "q");
    }
    assert_int_equal(infer(text, NULL, &s, &err), 0);
    assert_int_equal(s->cols[0].type, TAB_COL_NUMERIC); /* distinct measurements */
    assert_int_equal(s->cols[1].type, TAB_COL_NUMERIC); /* not consecutive */
    assert_int_equal(s->cols[2].type, TAB_COL_NUMERIC); /* consecutive, not named an id */
    assert_int_equal(s->cols[0].n_distinct, 30);
    tab_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_list),
        cmocka_unit_test(test_custom_list),
        cmocka_unit_test(test_markers_keep_types),
        cmocka_unit_test(test_not_identifiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
