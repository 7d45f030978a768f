/*
 * test_srv_config: `neurond serve` settings — defaults, NEUROND_* variables, flags winning
 * over variables, both flag spellings, range checks naming the flag, --help.
 */
#include "server/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int clear_env(void **state)
{
    (void)state;
    unsetenv("NEUROND_PORT");
    unsetenv("NEUROND_WORKERS");
    unsetenv("NEUROND_DB");
    unsetenv("NEUROND_MAX_UPLOAD_MB");
    return 0;
}

static void test_defaults(void **state)
{
    struct srv_config c;
    char *argv[] = {"serve", NULL};
    int help = 1;

    (void)state;
    assert_int_equal(srv_config_load(&c, 1, argv, &help, NULL), 0);
    assert_int_equal(help, 0);
    assert_string_equal(c.bind, "127.0.0.1");
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.db, "./data/neurond.db");
    assert_int_equal(c.max_upload_mb, 256);
    assert_int_equal(c.max_json_mb, 16);
    assert_int_equal(c.max_instances, 10000);
    assert_int_equal(c.workers, 0);
    assert_string_equal(c.api_key, "");
    assert_int_equal(c.log_requests, 1);
}

static void test_env_then_flags(void **state)
{
    struct srv_config c;
    char *argv[] = {"serve", "--port", "9000", "--workers=3", NULL};
    int help = 0;

    (void)state;
    setenv("NEUROND_PORT", "7000", 1);
    setenv("NEUROND_DB", "/tmp/x.db", 1);
    setenv("NEUROND_MAX_UPLOAD_MB", "5", 1);
    assert_int_equal(srv_config_load(&c, 4, argv, &help, NULL), 0);
    assert_int_equal(c.port, 9000); /* the flag wins */
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.db, "/tmp/x.db"); /* the variable, no flag */
    assert_int_equal(c.max_upload_mb, 5);
}

static void test_errors(void **state)
{
    struct srv_config c;
    struct nn_err err;
    int help = 0;
    char *bad_port[] = {"serve", "--port", "70000", NULL};
    char *unknown[] = {"serve", "--colour", "red", NULL};
    char *missing[] = {"serve", "--db", NULL};

    (void)state;
    assert_int_equal(srv_config_load(&c, 3, bad_port, &help, &err), NN_EINVAL);
    assert_string_equal(err.field, "--port");
    assert_int_equal(srv_config_load(&c, 3, unknown, &help, &err), NN_EINVAL);
    assert_non_null(strstr(err.msg, "--colour"));
    assert_int_equal(srv_config_load(&c, 2, missing, &help, &err), NN_EINVAL);
    setenv("NEUROND_WORKERS", "many", 1);
    char *none[] = {"serve", NULL};
    assert_int_equal(srv_config_load(&c, 1, none, &help, &err), NN_EINVAL);
    assert_string_equal(err.field, "NEUROND_WORKERS");
}

static void test_help(void **state)
{
    struct srv_config c;
    char *argv[] = {"serve", "--port", "1", "--help", NULL};
    int help = 0;
    char buf[8192] = {0};

    (void)state;
    assert_int_equal(srv_config_load(&c, 4, argv, &help, NULL), 0);
    assert_int_equal(help, 1);
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    srv_config_usage(f);
    fclose(f);
    assert_non_null(strstr(buf, "--max-upload-mb"));
    assert_non_null(strstr(buf, "NEUROND_MAX_UPLOAD_MB"));
    assert_non_null(strstr(buf, "default: 256"));
    assert_non_null(strstr(buf, "--queue-size"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_env_then_flags, clear_env),
        cmocka_unit_test_setup(test_errors, clear_env),
        cmocka_unit_test_setup(test_help, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
