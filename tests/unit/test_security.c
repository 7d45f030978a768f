/*
 * test_security: the MHD-free checks of server/security.c and server/limits.c — key
 * comparison, loopback detection, key files and the start-up rules, the JSON nesting probe,
 * and the network-size bound.
 */
#include "server/security.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/limits.h"

static void test_key_equal(void **state)
{
    (void)state;
    assert_true(srv_security_key_equal("s3cret-key", "s3cret-key"));
    assert_false(srv_security_key_equal("s3cret-kez", "s3cret-key"));
    assert_false(srv_security_key_equal("s3cret-ke", "s3cret-key"));
    assert_false(srv_security_key_equal("s3cret-keyy", "s3cret-key"));
    assert_false(srv_security_key_equal("", "s3cret-key"));
    assert_false(srv_security_key_equal("s3cret-key\0x", "s3cret-keyx"));
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(srv_security_is_loopback("127.0.0.1"));
    assert_true(srv_security_is_loopback("127.1.2.3"));
    assert_true(srv_security_is_loopback("::1"));
    assert_false(srv_security_is_loopback("0.0.0.0"));
    assert_false(srv_security_is_loopback("::"));
    assert_false(srv_security_is_loopback("10.0.0.1"));
    assert_false(srv_security_is_loopback("128.0.0.1"));
    assert_false(srv_security_is_loopback("localhost"));
}

static void base_cfg(struct srv_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->bind, sizeof(c->bind), "127.0.0.1");
}

static void test_prepare_rules(void **state)
{
    struct srv_config c;
    struct nn_err err;
    char path[64];

    (void)state;
    base_cfg(&c);
    assert_int_equal(srv_security_prepare(&c, &err), 0);
    snprintf(c.bind, sizeof(c.bind), "0.0.0.0");
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    assert_string_equal(err.field, "--bind");
    c.insecure = 1;
    assert_int_equal(srv_security_prepare(&c, &err), 0);
    c.insecure = 0;
    snprintf(c.api_key, sizeof(c.api_key), "k1");
    assert_int_equal(srv_security_prepare(&c, &err), 0);
    snprintf(c.predict_key, sizeof(c.predict_key), "k1");
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    assert_string_equal(err.field, "--predict-key");
    assert_null(strstr(err.msg, "k1"));
    base_cfg(&c);
    snprintf(c.predict_key, sizeof(c.predict_key), "p");
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    base_cfg(&c);
    snprintf(c.api_key, sizeof(c.api_key), "has space");
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    assert_null(strstr(err.msg, "has space"));
    base_cfg(&c);
    snprintf(c.tls_cert, sizeof(c.tls_cert), "cert.pem");
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    assert_string_equal(err.field, "--tls-key");
    /* a key file: first line, trailing CR/LF and blanks dropped */
    snprintf(path, sizeof(path), "/tmp/neurond-test-key-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc123 \r\nsecond line\n", 21), 21);
    close(fd);
    base_cfg(&c);
    snprintf(c.api_key_file, sizeof(c.api_key_file), "%s", path);
    assert_int_equal(srv_security_prepare(&c, &err), 0);
    assert_string_equal(c.api_key, "abc123");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\n", f);
    fclose(f);
    base_cfg(&c);
    snprintf(c.api_key_file, sizeof(c.api_key_file), "%s", path);
    assert_int_equal(srv_security_prepare(&c, &err), NN_EINVAL);
    assert_string_equal(err.field, "--api-key-file");
    unlink(path);
    base_cfg(&c);
    snprintf(c.api_key_file, sizeof(c.api_key_file), "%s", path);
    assert_int_equal(srv_security_prepare(&c, &err), NN_EIO);
    /* the flag, then the reader's own message naming the file */
    assert_int_equal(strncmp(err.msg, "--api-key-file: ", 16), 0);
    assert_non_null(strstr(err.msg, path));
}

static void test_json_depth(void **state)
{
    struct nn_err err;
    long d = -1;
    const char *ok = "{\"a\": [1, {\"b\": \"[[[[[[\\\"[[\"}], \"c\": {}}";

    (void)state;
    assert_int_equal(srv_security_json_depth(ok, strlen(ok), 3, &d, &err), 0);
    assert_int_equal(d, 3);
    assert_int_equal(srv_security_json_depth(ok, strlen(ok), 2, &d, &err), NN_ERANGE);
    assert_int_equal(err.col, 11); /* the third opener, '{' at byte 11 */
    char deep[200001];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(srv_security_json_depth(deep, strlen(deep), 64, &d, &err), NN_ERANGE);
    assert_int_equal(err.col, 65);
    assert_int_equal(srv_security_json_depth("]]]}}[", 6, 1, &d, &err), 0);
    assert_int_equal(d, 1);
    assert_int_equal(srv_security_json_depth("\"\\", 2, 1, &d, &err), 0); /* cut escape */
}

static void test_network_bound(void **state)
{
    struct srv_config c;
    struct model_params p;
    struct nn_err err;
    double n = 0;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.max_epochs = 100;
    c.max_layer_width = 64;
    c.max_params = 1000;
    model_params_default(&p);
    p.train.epochs = 50;
    p.hidden[0] = 10;
    p.n_hidden = 1;
    assert_int_equal(srv_limits_network(&c, &p, 5, &n, &err), 0);
    assert_true(n == 5 * 10 + 11); /* (4 inputs + 1) x 10, then 10 + 1 */
    p.train.epochs = 101;
    assert_int_equal(srv_limits_network(&c, &p, 5, &n, &err), NN_ERANGE);
    assert_string_equal(err.field, "epochs");
    p.train.epochs = 100;
    p.hidden[0] = 65;
    assert_int_equal(srv_limits_network(&c, &p, 5, &n, &err), NN_ERANGE);
    assert_string_equal(err.field, "hidden");
    p.hidden[0] = 64;
    assert_int_equal(srv_limits_network(&c, &p, 20, &n, &err), NN_ERANGE);
    assert_string_equal(err.field, "hidden");
    model_params_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_equal),     cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_prepare_rules), cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_network_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
