/*
 * test_predict_read: the reader of POST /predict's common body.
 *
 * What: it reads {"model", "version", "instances": [[numbers]]} in any key order, with white
 * space, to the values cJSON reads (bit for bit, big and many-digit numbers included), grows
 * past its inline room for big batches; it declines, leaving the body to the general path,
 * every body outside that shape: objects as instances, nulls, strings, escapes, duplicate or
 * unknown keys, unequal rows, empty rows, numbers outside JSON's grammar or float range, a
 * bad version, trailing bytes, a cut body.
 * Why: a body it reads must mean what the general path would make of it, and a body it
 * declines must still get the general path's answer (API tests check that side).
 */
#include "server/predict_read.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_text(const char *text, struct srv_predict_doc *d)
{
    return srv_predict_read(text, strlen(text), d);
}

static void test_reads(void **state)
{
    struct srv_predict_doc d;

    (void)state;
    assert_int_equal(read_text("{\"model\":\"iris\",\"instances\":[[5.1,3.5,1.4,0.2]]}", &d), 1);
    assert_string_equal(d.model, "iris");
    assert_int_equal(d.has_version, 0);
    assert_int_equal(d.rows, 1);
    assert_int_equal(d.width, 4);
    assert_true(d.x[0] == 5.1 && d.x[3] == 0.2);
    srv_predict_doc_fini(&d);
    assert_int_equal(
        read_text(" {\n \"instances\" : [ [ -0 , 1e3 ] ,[2.5E-3,-7] ] ,\t\"version\": 3 ,"
                  "\"model\":\"a-b.c_d\" }\r\n",
                  &d),
        1);
    assert_string_equal(d.model, "a-b.c_d");
    assert_int_equal(d.has_version, 1);
    assert_int_equal(d.version, 3);
    assert_int_equal(d.rows, 2);
    assert_int_equal(d.width, 2);
    assert_true(d.x[1] == 1000 && d.x[2] == 0.0025 && d.x[3] == -7);
    srv_predict_doc_fini(&d);
    /* no "model" (POST /models/<name>/predict) */
    assert_int_equal(read_text("{\"instances\":[[1]]}", &d), 1);
    assert_string_equal(d.model, "");
    assert_int_equal(d.explain, 0);
    srv_predict_doc_fini(&d);
    /* "explain": true or false (an object goes the general way: test_declines) */
    assert_int_equal(read_text("{\"instances\":[[1]], \"explain\" : true }", &d), 1);
    assert_int_equal(d.explain, 1);
    srv_predict_doc_fini(&d);
    assert_int_equal(read_text("{\"explain\":false,\"instances\":[[1]]}", &d), 1);
    assert_int_equal(d.explain, 0);
    srv_predict_doc_fini(&d);
}

/* Numbers read exactly as cJSON reads them, whichever way the number parser goes. */
static void test_same_values_as_cjson(void **state)
{
    static const char *const nums[] = {"0",
                                       "-0",
                                       "1",
                                       "0.1",
                                       "123456789012345",
                                       "1234567890123456789",
                                       "1e-7",
                                       "3.4e38",
                                       "-3.4e38",
                                       "1.5e-45",
                                       "0.30000000000000004",
                                       "9007199254740993",
                                       "2.2250738585072014e-308",
                                       "1E+2",
                                       "123.456e-2",
                                       "0.000001",
                                       "1e0"};
    char text[256];
    struct srv_predict_doc d;

    (void)state;
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        snprintf(text, sizeof(text), "{\"instances\":[[%s]]}", nums[i]);
        assert_int_equal(read_text(text, &d), 1);
        cJSON *doc = cJSON_Parse(text);
        double want =
            cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "instances"), 0), 0)
                ->valuedouble;
        if (memcmp(&want, &d.x[0], sizeof(want)) != 0) {
            fail_msg("%s: read %.17g, cJSON %.17g", nums[i], d.x[0], want);
        }
        cJSON_Delete(doc);
        srv_predict_doc_fini(&d);
    }
}

static void test_big_batch(void **state)
{
    size_t rows = 1000, width = 57, cap = rows * width * 12 + 64, n = 0;
    char *text = malloc(cap);
    struct srv_predict_doc d;

    (void)state;
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "{\"model\":\"a\",\"instances\":[");
    for (size_t r = 0; r < rows; r++) {
        n += (size_t)snprintf(text + n, cap - n, "%s[", r ? "," : "");
        for (size_t c = 0; c < width; c++) {
            n += (size_t)snprintf(text + n, cap - n, "%s%zu.25", c ? "," : "", r * width + c);
        }
        n += (size_t)snprintf(text + n, cap - n, "]");
    }
    n += (size_t)snprintf(text + n, cap - n, "]}");
    assert_int_equal(srv_predict_read(text, n, &d), 1);
    assert_int_equal(d.rows, rows);
    assert_int_equal(d.width, width);
    assert_ptr_not_equal(d.x, d.inline_x);
    for (size_t i = 0; i < rows * width; i++) {
        assert_true(d.x[i] == (double)i + 0.25);
    }
    srv_predict_doc_fini(&d);
    /* a cut body at every length is declined, never read past its end (ASan in CI) */
    for (size_t cut = 0; cut < 2000; cut += 7) {
        char *part = malloc(cut + 1);
        assert_non_null(part);
        memcpy(part, text, cut);
        assert_int_equal(srv_predict_read(part, cut, &d), 0);
        srv_predict_doc_fini(&d);
        free(part);
    }
    free(text);
}

static void test_declines(void **state)
{
    static const char *const bodies[] = {
        "",
        "[]",
        "{}",
        "{\"model\":\"a\"}",
        "{\"instances\":[]}",
        "{\"instances\":[[]]}",
        "{\"instances\":[{\"x\":1}]}",
        "{\"instances\":[[1,null]]}",
        "{\"instances\":[[1,\"2\"]]}",
        "{\"instances\":[[1,true]]}",
        "{\"instances\":[[1]],\"explain\":{\"top\":3}}",
        "{\"instances\":[[1]],\"explain\":1}",
        "{\"instances\":[[1]],\"explain\":null}",
        "{\"instances\":[[1]],\"explain\":tru}",
        "{\"instances\":[[1]],\"explain\":true,\"explain\":true}",
        "{\"instances\":[[1,2],[3]]}",
        "{\"instances\":[[1],[2,3]]}",
        "{\"instances\":[[1]],\"instances\":[[2]]}",
        "{\"model\":\"a\",\"model\":\"b\",\"instances\":[[1]]}",
        "{\"instances\":[[1]],\"extra\":1}",
        "{\"instances\":[[1]],\"version\":0}",
        "{\"instances\":[[1]],\"version\":1.5}",
        "{\"instances\":[[1]],\"version\":null}",
        "{\"instances\":[[1]],\"version\":\"2\"}",
        "{\"instances\":[[1]],\"version\":2e9}",
        "{\"model\":\"a\\\"b\",\"instances\":[[1]]}",
        "{\"model\":null,\"instances\":[[1]]}",
        "{\"mod\\u0065l\":\"a\",\"instances\":[[1]]}",
        "{\"instances\":[[01]]}",
        "{\"instances\":[[+1]]}",
        "{\"instances\":[[.5]]}",
        "{\"instances\":[[1.]]}",
        "{\"instances\":[[1e]]}",
        "{\"instances\":[[-]]}",
        "{\"instances\":[[0x10]]}",
        "{\"instances\":[[NaN]]}",
        "{\"instances\":[[Infinity]]}",
        "{\"instances\":[[1e39]]}",
        "{\"instances\":[[-1e39]]}",
        "{\"instances\":[[1,]]}",
        "{\"instances\":[[1]],}",
        "{\"instances\":[[1]]} x",
        "{\"instances\":[[1]]}{}",
        "{\"instances\":[[1]]",
        "{\"instances\":[[1]",
        "{\"instances\" [[1]]}",
        "{'instances':[[1]]}",
        "{\"instances\":[[1 2]]}",
        "{\"instances\":[[1]]}\x01",
    };
    struct srv_predict_doc d;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (read_text(bodies[i], &d) != 0) {
            fail_msg("read a body it should decline: %s", bodies[i]);
        }
        srv_predict_doc_fini(&d);
    }
    /* a model name longer than any valid one (64 bytes) */
    char text[300];
    snprintf(text, sizeof(text), "{\"model\":\"%0100d\",\"instances\":[[1]]}", 7);
    assert_int_equal(read_text(text, &d), 0);
    srv_predict_doc_fini(&d);
    /* a NULL body */
    assert_int_equal(srv_predict_read(NULL, 0, &d), 0);
    srv_predict_doc_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_same_values_as_cjson),
        cmocka_unit_test(test_big_batch),
        cmocka_unit_test(test_declines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
