/*
 * test_json_check: the checks on a JSON body's raw text that cJSON does not make — raw
 * control characters (in strings and between tokens) and the \u0000 escape — with the byte
 * offset and the path of the string at fault.
 */
#include "server/json_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int check(const char *text, size_t len, struct nn_err *err)
{
    memset(err, 0, sizeof(*err));
    return srv_json_check_text(text, len, err);
}

static void test_clean_texts_pass(void **state)
{
    static const char *const ok[] = {
        "{\"model\": \"iris\", \"instances\": [{\"a\": 1.5, \"b\": \"x\\ty\\\\u0000\"}]}",
        "[1, 2, \"\\u0001\", \"\\u00e9\", \"caf\xc3\xa9\"]\r\n\t",
        "\"\\\\\"",
        "",
        "{\"a\": [[[[[[[[[[[[[[[[[[[[\"deep\"]]]]]]]]]]]]]]]]]]]]}",
        "]]]}}[",              /* the grammar is cJSON's business */
        "\"\\",                /* a cut escape */
        "{\"a\": \"\\u000\"}", /* a cut \u escape: cJSON refuses it */
    };
    struct nn_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(check(ok[i], strlen(ok[i]), &err), 0);
    }
}

static void test_escaped_nul_is_named(void **state)
{
    struct nn_err err;
    const char *t1 = "{\"model\": \"iris\\u0000x\"}";
    const char *t2 =
        "{\"model\": \"m\", \"instances\": [{\"a\": 1}, {\"a\": 2, \"b\": \"\\u0000\"}]}";
    const char *t3 = "{\"instances\": [{\"spe\\u0000cies\": \"x\"}]}";
    const char *t4 = "[\"a\", [\"b\", \"c\\u0000\"]]";
    const char *t5 = "\"\\u0000\"";

    (void)state;
    assert_int_equal(check(t1, strlen(t1), &err), NN_EINVAL);
    assert_string_equal(err.field, "model");
    assert_int_equal(err.col, 16); /* the backslash */
    assert_non_null(strstr(err.msg, "\"model\""));
    assert_int_equal(check(t2, strlen(t2), &err), NN_EINVAL);
    assert_string_equal(err.field, "instances[1].b");
    assert_int_equal(check(t3, strlen(t3), &err), NN_EINVAL);
    assert_string_equal(err.field, "instances[0].spe\\u0000cies");
    assert_int_equal(check(t4, strlen(t4), &err), NN_EINVAL);
    assert_string_equal(err.field, "[1][1]");
    assert_int_equal(check(t5, strlen(t5), &err), NN_EINVAL);
    assert_string_equal(err.field, "");
}

static void test_raw_control_characters(void **state)
{
    struct nn_err err;
    const char raw_nul[] = "{\"model\": \"iris\0x\"}";
    const char in_str[] = "{\"a\": \"x\x01y\"}";
    const char after_escape[] = "{\"a\": \"x\\\x01y\"}";
    const char outside[] = "{\"a\":\x01 1}";
    const char trailing_nul[] = "{\"a\": 1}\0";

    (void)state;
    assert_int_equal(check(raw_nul, sizeof(raw_nul) - 1, &err), NN_EFORMAT);
    assert_int_equal(err.col, 16);
    assert_string_equal(err.field, "model");
    assert_int_equal(check(in_str, sizeof(in_str) - 1, &err), NN_EFORMAT);
    assert_int_equal(err.col, 9);
    assert_non_null(strstr(err.msg, "0x01"));
    assert_int_equal(check(after_escape, sizeof(after_escape) - 1, &err), NN_EFORMAT);
    assert_int_equal(check(outside, sizeof(outside) - 1, &err), NN_EFORMAT);
    assert_int_equal(err.col, 6);
    assert_int_equal(check(trailing_nul, sizeof(trailing_nul) - 1, &err), NN_EFORMAT);
}

static void test_deep_paths_are_cut(void **state)
{
    char text[400];
    struct nn_err err;
    size_t n = 0;

    (void)state;
    for (int i = 0; i < 40; i++) {
        text[n++] = '[';
    }
    memcpy(text + n, "\"\\u0000\"", 8);
    n += 8;
    assert_int_equal(check(text, n, &err), NN_EINVAL);
    assert_non_null(strstr(err.field, "..."));
    assert_int_equal(strncmp(err.field, "[0][0][0]", 9), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_texts_pass),
        cmocka_unit_test(test_escaped_nul_is_named),
        cmocka_unit_test(test_raw_control_characters),
        cmocka_unit_test(test_deep_paths_are_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
