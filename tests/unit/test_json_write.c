/*
 * test_json_write: the reply writer of POST /predict gives the bytes cJSON gave.
 *
 * What: for floats across the whole range (random bit patterns, whole numbers, 1e7 and up,
 * tiny, -0, NaN, infinities) srv_json_float writes what cJSON_PrintUnformatted printed for
 * the double nearest the float's 7-significant-digit text, the reply of the daemon before
 * the writer; strings with quotes, backslashes and control bytes escape as cJSON escapes them.
 * Why: clients compare replies across versions and across the two prediction paths.
 */
#include "server/json_write.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/rng.h"

/* What the daemon printed before: cJSON's number of tidy(v). */
static char *cjson_text(float v)
{
    char buf[32];
    cJSON *n;

    if (v == 0.0f && signbit(v)) {
        /* cJSON 1.7.15 (bookworm) prints -0, 1.7.18 (trixie) 0: the writer keeps -0 on both */
        char *t = cJSON_malloc(3);
        if (t != NULL) {
            memcpy(t, "-0", 3);
        }
        return t;
    }
    snprintf(buf, sizeof(buf), "%.7g", (double)v);
    n = isfinite(v) ? cJSON_CreateNumber(strtod(buf, NULL)) : cJSON_CreateNumber((double)v);
    char *t = cJSON_PrintUnformatted(n);
    cJSON_Delete(n);
    return t;
}

static void check_float(float v)
{
    struct tab_buf b;
    char *want = cjson_text(v);

    tab_buf_init(&b, 1024);
    srv_json_float(&b, v);
    tab_buf_put(&b, "", 1);
    if (strcmp((const char *)b.data, want) != 0) {
        fail_msg("%.9g: wrote %s, cJSON %s", (double)v, (const char *)b.data, want);
    }
    cJSON_free(want);
    tab_buf_fini(&b);
}

static void test_floats(void **state)
{
    static const float fixed[] = {0.0f,          -0.0f, 1.0f,          -1.0f,     0.98f,
                                  0.5f,          1e-5f, 1.234568e-5f,  1e7f,      12345678.0f,
                                  -1e7f,         3e9f,  1e30f,         -2.5e-30f, 1e-45f,
                                  3.4028235e38f, 0.1f,  2147483520.0f, 65536.0f,  1.1920929e-07f};
    struct nn_rng rng;

    (void)state;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        check_float(fixed[i]);
    }
    nn_rng_seed(&rng, 7);
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)nn_rng_next(&rng);
        float v;
        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v)) {
            check_float(v);
        }
    }
    for (int i = 0; i < 20000; i++) { /* probabilities */
        check_float((float)nn_rng_uniform(&rng));
    }
}

static void test_non_finite(void **state)
{
    struct tab_buf b;

    (void)state;
    tab_buf_init(&b, 1024);
    srv_json_float(&b, NAN);
    srv_json_raw(&b, ",");
    srv_json_float(&b, INFINITY);
    srv_json_raw(&b, ",");
    srv_json_float(&b, -INFINITY);
    tab_buf_put(&b, "", 1);
    assert_string_equal((const char *)b.data, "null,null,null");
    tab_buf_fini(&b);
}

/* Members: a comma before all but the first, the key escaped, as cJSON prints an object. */
static void test_members(void **state)
{
    cJSON *o = cJSON_CreateObject();
    char *want;
    struct tab_buf b;

    (void)state;
    cJSON_AddNumberToObject(o, "a", 0.25);
    cJSON_AddNumberToObject(o, "b\"c", 3);
    want = cJSON_PrintUnformatted(o);
    tab_buf_init(&b, 1024);
    srv_json_raw(&b, "{");
    srv_json_member_float(&b, 1, "a", 0.25f);
    srv_json_member_float(&b, 0, "b\"c", 3.0f);
    srv_json_raw(&b, "}");
    tab_buf_put(&b, "", 1);
    assert_string_equal((const char *)b.data, want);
    tab_buf_fini(&b);
    cJSON_free(want);
    cJSON_Delete(o);
}

static void test_strings(void **state)
{
    static const char *const cases[] = {"",          "plain",       "a\"b",     "back\\slash",
                                        "tab\there", "nl\nx\r\b\f", "\x01\x1f", "caf\xc3\xa9",
                                        "\x7f"};
    struct tab_buf b;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *s = cJSON_CreateString(cases[i]);
        char *want = cJSON_PrintUnformatted(s);
        tab_buf_init(&b, 1024);
        srv_json_str(&b, cases[i]);
        tab_buf_put(&b, "", 1);
        assert_string_equal((const char *)b.data, want);
        tab_buf_fini(&b);
        cJSON_free(want);
        cJSON_Delete(s);
    }
    tab_buf_init(&b, 1024);
    srv_json_int(&b, -42);
    srv_json_raw(&b, ",");
    srv_json_int(&b, 0);
    srv_json_raw(&b, ",");
    srv_json_int(&b, 1000000007);
    srv_json_raw(&b, ",");
    srv_json_int(&b, LONG_MIN);
    tab_buf_put(&b, "", 1);
    char want[64];
    snprintf(want, sizeof(want), "-42,0,1000000007,%ld", LONG_MIN);
    assert_string_equal((const char *)b.data, want);
    tab_buf_fini(&b);
}

/* srv_json_tree writes what cJSON_PrintUnformatted does for a tree whose numbers have at most
 * 7 significant digits (more are rounded to float precision, as srv_json_float does). */
static void test_tree(void **state)
{
    const char *src =
        "{\"class\":\"sp\\\"am\",\"output\":5,\"neg\":-0.25,\"x\":[1,2.5,{\"a\":null}],"
        "\"t\":true,\"f\":false,\"e\":{},\"l\":[],\"big\":1234567}";
    cJSON *doc = cJSON_Parse(src);
    char *want = cJSON_PrintUnformatted(doc);
    struct tab_buf b;

    (void)state;
    tab_buf_init(&b, 1 << 16);
    srv_json_tree(&b, doc);
    assert_false(b.failed);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    tab_buf_fini(&b);
    cJSON_free(want);
    cJSON_Delete(doc);
}

static void test_limit(void **state)
{
    struct tab_buf b;

    (void)state;
    tab_buf_init(&b, 8);
    srv_json_str(&b, "longer than eight");
    assert_true(b.failed); /* sticky: the caller answers 500, never a cut reply */
    srv_json_raw(&b, "x");
    assert_true(b.failed);
    tab_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floats),  cmocka_unit_test(test_non_finite),
        cmocka_unit_test(test_strings), cmocka_unit_test(test_tree),
        cmocka_unit_test(test_limit),   cmocka_unit_test(test_members),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
