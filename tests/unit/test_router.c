/*
 * test_router: the static route table — exact and `*` segments, captures in order,
 * 404 for unknown paths, 405 with the Allow list, no match across a trailing slash.
 */
#include "server/router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void test_matches(void **state)
{
    char args[SRV_ARGS_MAX][SRV_ARG_LEN];
    char allow[64];
    int n = -1;

    (void)state;
    int i = srv_router_find("GET", "/models/iris/versions/3", args, &n, allow, sizeof(allow));
    assert_true(i >= 0);
    assert_string_equal(srv_router_get(i)->pattern, "/models/*/versions/*");
    assert_int_equal(n, 2);
    assert_string_equal(args[0], "iris");
    assert_string_equal(args[1], "3");
    i = srv_router_find("POST", "/jobs/abc/cancel", args, &n, allow, sizeof(allow));
    assert_true(i >= 0);
    assert_string_equal(srv_router_get(i)->pattern, "/jobs/*/cancel");
    assert_string_equal(args[0], "abc");
    i = srv_router_find("GET", "/healthz", args, &n, allow, sizeof(allow));
    assert_true(i >= 0);
    assert_int_equal(n, 0);
    assert_int_equal(srv_router_get(i)->auth, SRV_AUTH_PUBLIC);
    i = srv_router_find("POST", "/predict", args, &n, allow, sizeof(allow));
    assert_true(i >= 0);
    assert_true(srv_router_get(i)->bodies & SRV_BODY_CSV);
    assert_true(srv_router_get(i)->bodies & SRV_BODY_JSON);
    assert_string_equal(srv_router_labels()[i], "POST /predict");
}

static void test_404_405(void **state)
{
    char args[SRV_ARGS_MAX][SRV_ARG_LEN];
    char allow[64];
    int n = 0;

    (void)state;
    assert_int_equal(srv_router_find("GET", "/nope", args, &n, allow, sizeof(allow)), -404);
    assert_int_equal(srv_router_find("GET", "/models/", args, &n, allow, sizeof(allow)), -404);
    assert_int_equal(srv_router_find("GET", "/models//x", args, &n, allow, sizeof(allow)), -404);
    assert_int_equal(srv_router_find("GET", "/jobs/a/b/c", args, &n, allow, sizeof(allow)), -404);
    assert_int_equal(srv_router_find("PATCH", "/models/x", args, &n, allow, sizeof(allow)), -405);
    assert_string_equal(allow, "GET, HEAD, DELETE");
    assert_int_equal(srv_router_find("GET", "/train", args, &n, allow, sizeof(allow)), -405);
    assert_string_equal(allow, "POST");
    assert_int_equal(srv_router_find("POST", "/jobs/x", args, &n, allow, sizeof(allow)), -405);
    assert_string_equal(allow, "GET, HEAD, DELETE");
    /* HEAD finds the GET route (RFC 9110 9.3.2) and nothing else */
    int g = srv_router_find("GET", "/models/x", args, &n, allow, sizeof(allow));
    assert_int_equal(srv_router_find("HEAD", "/models/x", args, &n, allow, sizeof(allow)), g);
    assert_string_equal(args[0], "x");
    assert_int_equal(srv_router_find("HEAD", "/train", args, &n, allow, sizeof(allow)), -405);
}

static void test_long_segment_is_404(void **state)
{
    char args[SRV_ARGS_MAX][SRV_ARG_LEN];
    char allow[64];
    char path[400];
    int n = 0;

    (void)state;
    strcpy(path, "/models/");
    memset(path + 8, 'a', 300);
    path[308] = '\0';
    assert_int_equal(srv_router_find("GET", path, args, &n, allow, sizeof(allow)), -404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_long_segment_is_404),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
