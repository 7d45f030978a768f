/*
 * test_params: the table of training parameters (model/params.h) and what is made from it.
 *
 * What: walking every row of the table — its default parses and gives the defaults' JSON;
 * a row without a default is null (or left out) in the JSON until given; valid values of
 * every type (range ends, every choice, lists) are parsed, written as JSON, and the JSON's
 * value read back as text gives the same JSON (the job's form re-run after a restart);
 * values just outside the range, of the wrong type or not a choice are refused with the row's
 * name in err->field and the parameters unchanged; the JSON has one key per row, in table
 * order; the table's JSON (`neurond params --json`) describes each row as the parser
 * behaves; copies are deep.
 * Why: the CLI, the HTTP API, the job and card JSON, --help, the OpenAPI document and
 * docs/api.md are all made from this table: a row that parses differently from what it
 * says, or writes what it cannot read back, would be wrong in all of them at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/params.h"
#include "nn/alloc.h"

/* The JSON value of one parameter of p, or NULL when the JSON leaves it out. New; delete. */
static cJSON *json_of(const struct model_params *p, const char *name)
{
    cJSON *o = model_params_to_json(p);
    cJSON *v;

    assert_non_null(o);
    v = cJSON_DetachItemFromObjectCaseSensitive(o, name);
    cJSON_Delete(o);
    return v;
}

/* A JSON value written back as the text a form field would carry ("" for null). */
static void as_text(const cJSON *v, char *buf, size_t cap)
{
    const cJSON *it;
    size_t len = 0;

    buf[0] = '\0';
    if (v == NULL || cJSON_IsNull(v)) {
        return;
    }
    if (cJSON_IsString(v)) {
        snprintf(buf, cap, "%s", v->valuestring);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, cap, "%.17g", v->valuedouble);
    } else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v)
        {
            char item[128];
            as_text(it, item, sizeof(item));
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len > 0 ? "," : "", item);
        }
    } else {
        fail_msg("unexpected JSON type for a parameter");
    }
}

/* Sets name=value on fresh defaults; asserts it is accepted; returns the JSON of the row. */
static cJSON *accepted(const char *name, const char *value)
{
    struct model_params p;
    struct nn_err err;
    cJSON *v;

    model_params_default(&p);
    nn_err_clear(&err);
    if (model_params_set(&p, name, value, &err) != 0) {
        fail_msg("%s='%s' refused: %s", name, value, err.msg);
    }
    v = json_of(&p, name);
    model_params_fini(&p);
    return v;
}

/* name=value is accepted, and its JSON read back as text gives the same JSON. */
static void round_trip(const char *name, const char *value)
{
    cJSON *v = accepted(name, value), *w;
    char text[512];

    assert_non_null(v);
    as_text(v, text, sizeof(text));
    w = accepted(name, text);
    if (!cJSON_Compare(v, w, 1)) {
        fail_msg("%s='%s' writes '%s', which reads back differently", name, value, text);
    }
    cJSON_Delete(v);
    cJSON_Delete(w);
}

/* name=value is refused with NN_EINVAL naming the row, and nothing changes. */
static void refused(const char *name, const char *value)
{
    struct model_params p;
    struct nn_err err;
    cJSON *before, *after;

    model_params_default(&p);
    before = model_params_to_json(&p);
    nn_err_clear(&err);
    if (model_params_set(&p, name, value, &err) != NN_EINVAL) {
        fail_msg("%s='%s' was not refused", name, value);
    }
    assert_string_equal(err.field, name);
    assert_non_null(strstr(err.msg, name));
    after = model_params_to_json(&p);
    assert_true(cJSON_Compare(before, after, 1));
    cJSON_Delete(before);
    cJSON_Delete(after);
    model_params_fini(&p);
}

static void fmt(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.17g", v);
}

static void test_defaults(void **state)
{
    (void)state;
    size_t n;
    const struct model_param *t = model_param_table(&n);
    struct model_params p;

    assert_true(n >= 18);
    model_params_default(&p);
    for (size_t i = 0; i < n; i++) {
        cJSON *def = json_of(&p, t[i].name);

        if (t[i].def != NULL) {
            cJSON *given = accepted(t[i].name, t[i].def);
            if (!cJSON_Compare(def, given, 1)) {
                fail_msg("%s: the default '%s' is not what model_params_default sets", t[i].name,
                         t[i].def);
            }
            cJSON_Delete(given);
        } else {
            /* not given: null, left out, or (learning_rate) resolved by its hook */
            assert_non_null(t[i].unset);
            assert_true(def == NULL || cJSON_IsNull(def) || t[i].to_json != NULL);
            assert_true(def != NULL || (t[i].flags & MODEL_PARAM_OMIT));
            /* an empty value means "not given" again */
            cJSON *empty = accepted(t[i].name, "");
            assert_true(cJSON_Compare(def, empty, 1) || (def == NULL && empty == NULL));
            cJSON_Delete(empty);
        }
        assert_non_null(t[i].help);
        cJSON_Delete(def);
    }
    assert_int_equal(p.batch_auto, 1);
    model_params_fini(&p);
}

static void test_round_trips_and_ranges(void **state)
{
    (void)state;
    size_t n;
    const struct model_param *t = model_param_table(&n);
    char a[64], b[64];

    for (size_t i = 0; i < n; i++) {
        const struct model_param *d = &t[i];
        double span = d->max - d->min;

        switch (d->type) {
        case MODEL_PARAM_STRING:
            round_trip(d->name, "a column");
            break;
        case MODEL_PARAM_LIST: {
            cJSON *v = accepted(d->name, "a,b c");
            assert_int_equal(cJSON_GetArraySize(v), 2);
            assert_string_equal(cJSON_GetArrayItem(v, 1)->valuestring, "b c");
            cJSON_Delete(v);
            round_trip(d->name, "x,y");
            break;
        }
        case MODEL_PARAM_INT:
            fmt(a, sizeof(a), d->min);
            fmt(b, sizeof(b), d->max);
            round_trip(d->name, a);
            round_trip(d->name, b);
            fmt(a, sizeof(a), d->min - 1);
            fmt(b, sizeof(b), d->max + 1);
            refused(d->name, a);
            refused(d->name, b);
            refused(d->name, "1.5");
            refused(d->name, "x");
            break;
        case MODEL_PARAM_UINT64:
            round_trip(d->name, "0");
            round_trip(d->name, "123456789");
            refused(d->name, "-1");
            refused(d->name, "1e3");
            break;
        case MODEL_PARAM_NUMBER:
            fmt(a, sizeof(a), d->min);
            fmt(b, sizeof(b), d->max);
            if (d->flags & MODEL_PARAM_EXCL_MIN) {
                refused(d->name, a);
            } else {
                round_trip(d->name, a);
            }
            if (d->flags & MODEL_PARAM_EXCL_MAX) {
                refused(d->name, b);
            } else {
                round_trip(d->name, b);
            }
            fmt(a, sizeof(a), d->min + span / 3);
            round_trip(d->name, a);
            fmt(a, sizeof(a), d->min - span / 100);
            fmt(b, sizeof(b), d->max + span / 100);
            refused(d->name, a);
            refused(d->name, b);
            refused(d->name, "nan");
            refused(d->name, "inf");
            refused(d->name, "0.5x");
            break;
        case MODEL_PARAM_CHOICE:
            for (const struct model_param_choice *c = d->choices; c->name != NULL; c++) {
                cJSON *v = accepted(d->name, c->name);
                /* a word stores the value of its first row; the written word stores it too */
                const struct model_param_choice *r = d->choices, *w = d->choices;
                while (strcmp(r->name, c->name) != 0) {
                    r++;
                }
                while (w->name != NULL && (cJSON_IsNull(v) || strcmp(w->name, v->valuestring))) {
                    w++;
                }
                assert_true(cJSON_IsNull(v) ? d->def == NULL && r->value == (int)d->unset_value
                                            : w->value == r->value);
                cJSON_Delete(v);
                round_trip(d->name, c->name);
            }
            refused(d->name, "no-such-choice");
            break;
        case MODEL_PARAM_BOOL:
            /* a JSON boolean (not the word), whichever word was given */
            for (const struct model_param_choice *c = d->choices; c->name != NULL; c++) {
                cJSON *v = accepted(d->name, c->name);
                assert_true(cJSON_IsBool(v));
                assert_int_equal(cJSON_IsTrue(v), c->value != 0);
                cJSON_Delete(v);
                round_trip(d->name, c->name);
            }
            refused(d->name, "maybe");
            refused(d->name, "TRUE ");
            break;
        case MODEL_PARAM_WIDTHS: {
            cJSON *v = accepted(d->name, "64, 32");
            assert_int_equal(cJSON_GetArraySize(v), 2);
            assert_int_equal(cJSON_GetArrayItem(v, 1)->valueint, 32);
            cJSON_Delete(v);
            round_trip(d->name, "");
            fmt(a, sizeof(a), d->max);
            round_trip(d->name, a);
            round_trip(d->name, "1,2,3,4,5,6,7,8");
            refused(d->name, "1,2,3,4,5,6,7,8,9");
            refused(d->name, "0");
            fmt(b, sizeof(b), d->max + 1);
            refused(d->name, b);
            refused(d->name, "4,,2");
            refused(d->name, "4,");
            break;
        }
        }
    }
}

static void test_json_shape(void **state)
{
    (void)state;
    size_t n, i = 0;
    const struct model_param *t = model_param_table(&n);
    struct model_params p;
    struct nn_err err;
    const cJSON *it;

    /* every row given: one key per row, in table order */
    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "threshold", "0.7", &err), 0);
    assert_int_equal(model_params_set(&p, "target_fpr", "0.05", &err), 0);
    assert_int_equal(model_params_set(&p, "base", "spam@2", &err), 0);
    cJSON *o = model_params_to_json(&p);
    assert_int_equal(cJSON_GetArraySize(o), (int)n);
    cJSON_ArrayForEach(it, o)
    {
        assert_string_equal(it->string, t[i].name);
        i++;
    }
    cJSON_Delete(o);
    /* the yes/no parameters are JSON booleans, not the words "true"/"false" (issue 19) */
    cJSON *a = json_of(&p, "auto"), *e = json_of(&p, "ensemble");
    assert_true(cJSON_IsFalse(a) && cJSON_IsTrue(e));
    cJSON_Delete(a);
    cJSON_Delete(e);
    assert_int_equal(model_params_set(&p, "auto", "yes", &err), 0);
    a = json_of(&p, "auto");
    assert_true(cJSON_IsTrue(a));
    cJSON_Delete(a);
    model_params_fini(&p);
    /* the hooks: batch_size given stops the automatic batch; learning_rate resolves */
    assert_int_equal(model_params_set(&p, "batch_size", "8", &err), 0);
    assert_int_equal(p.batch_auto, 0);
    /* epochs and patience given: a warm start keeps them (MODEL_WARM_* otherwise) */
    assert_int_equal(p.epochs_auto, 1);
    assert_int_equal(p.patience_auto, 1);
    assert_int_equal(model_params_set(&p, "epochs", "300", &err), 0);
    assert_int_equal(model_params_set(&p, "patience", "20", &err), 0);
    assert_int_equal(p.epochs_auto, 0);
    assert_int_equal(p.patience_auto, 0);
    assert_int_equal(model_params_set(&p, "optimizer", "sgd", &err), 0);
    cJSON *lr = json_of(&p, "learning_rate");
    assert_true(fabs(lr->valuedouble - 0.01) < 1e-12);
    cJSON_Delete(lr);
    /* unknown names */
    nn_err_clear(&err);
    assert_int_equal(model_params_set(&p, "colour", "red", &err), NN_ENOTFOUND);
    assert_string_equal(err.field, "colour");
    /* a deep copy */
    struct model_params q;
    assert_int_equal(model_params_set(&p, "label", "y", &err), 0);
    assert_int_equal(model_params_copy(&q, &p), 0);
    assert_ptr_not_equal(q.label, p.label);
    assert_string_equal(q.label, "y");
    model_params_fini(&p);
    assert_string_equal(q.label, "y");
    model_params_fini(&q);
}

static void test_table_json(void **state)
{
    (void)state;
    size_t n;
    const struct model_param *t = model_param_table(&n);
    cJSON *doc = model_param_table_json();
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(doc, "parameters");
    char opt[64];

    assert_int_equal(cJSON_GetArraySize(rows), (int)n);
    for (size_t i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(rows, (int)i);
        const char *name = cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring;
        const char *option = cJSON_GetObjectItemCaseSensitive(r, "option")->valuestring;

        assert_string_equal(name, t[i].name);
        assert_ptr_equal(model_param_find(name), &t[i]);
        /* the option is the name with dashes, and nothing else */
        assert_string_equal(option, model_param_option(&t[i], opt, sizeof(opt)));
        assert_true(strncmp(option, "--", 2) == 0 && strlen(option) == strlen(name) + 2);
        for (size_t j = 0; name[j] != '\0'; j++) {
            assert_int_equal(option[j + 2], name[j] == '_' ? '-' : name[j]);
        }
        /* a row that is a yes/no is a BOOL (a JSON boolean), never a choice of words */
        if (t[i].type == MODEL_PARAM_CHOICE) {
            for (const struct model_param_choice *w = t[i].choices; w->name != NULL; w++) {
                assert_true(strcmp(w->name, "true") != 0 && strcmp(w->name, "yes") != 0);
            }
        }
        /* every choice it lists is accepted */
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r, "choices"), *c;
        assert_true((ch != NULL) ==
                    (t[i].type == MODEL_PARAM_CHOICE || t[i].type == MODEL_PARAM_BOOL));
        cJSON_ArrayForEach(c, ch)
        {
            cJSON_Delete(accepted(name, c->valuestring));
        }
        /* the range it states is the parser's (checked above against the same row) */
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(r, "minimum");
        if (t[i].type == MODEL_PARAM_INT || t[i].type == MODEL_PARAM_NUMBER) {
            assert_true(mn->valuedouble == t[i].min);
            assert_true(cJSON_GetObjectItemCaseSensitive(r, "maximum")->valuedouble == t[i].max);
        }
        const cJSON *def = cJSON_GetObjectItemCaseSensitive(r, "default");
        assert_true(t[i].def != NULL ? strcmp(def->valuestring, t[i].def) == 0 : cJSON_IsNull(def));
    }
    cJSON_Delete(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_round_trips_and_ranges),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_table_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
