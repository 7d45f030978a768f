/*
 * test_torture: allocation failure injected at the Nth allocation, for N = 1, 2, ... in
 * turn, in model loading (binary blob and JSON import) and CSV reading (the reader alone,
 * the pre-job check, and — in the full tier — a whole training run). Each run must end in
 * an error or a success, never a crash; under ASan (make SANITIZE=address,undefined) a leak
 * on any error path fails the run too. curl's -t and SQLite's OOM tests are the model.
 *
 * Quick tier (make test-unit): every N for the loaders and the CSV reader on small inputs.
 * Full tier (make test-torture, NEUROND_TORTURE_FULL=1): also every N of a training run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "nn/alloc.h"
#include "nn/err.h"
#include "tab/csv.h"

#define MAX_STEPS 200000L

/* A small mixed CSV: numeric, categorical and text columns, a string label. */
static const char *const CSV_TEXT = "x1,x2,colour,note,label\n"
                                    "1.5,2,red,cheap pills now,spam\n"
                                    "0.5,,blue,meeting at noon,ham\n"
                                    "\"2.5\",4,red,\"win, win\",spam\n"
                                    "0.1,1,green,lunch tomorrow,ham\n"
                                    "3.0,5,red,free money,spam\n"
                                    "0.2,0,blue,see you,ham\n"
                                    "2.2,3,red,cheap offer,spam\n"
                                    "0.4,1,green,\"notes\n"
                                    "attached\",ham\n"
                                    "2.9,4,red,prize inside,spam\n"
                                    "0.3,2,blue,call me,ham\n"
                                    "1.9,3,red,act now,spam\n"
                                    "0.6,1,green,report,ham\n";

static char csv_path[64];

static int write_csv(void **state)
{
    (void)state;
    snprintf(csv_path, sizeof(csv_path), "/tmp/neurond-torture-XXXXXX");
    int fd = mkstemp(csv_path);
    if (fd < 0) {
        return -1;
    }
    size_t n = strlen(CSV_TEXT);
    int ok = write(fd, CSV_TEXT, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

static int remove_csv(void **state)
{
    (void)state;
    unlink(csv_path);
    return 0;
}

static void small_params(struct model_params *p)
{
    model_params_default(p);
    p->train.epochs = 3;
    p->hidden[0] = 4;
    p->n_hidden = 1;
}

/* Trains the reference model without fault injection. */
static struct model *reference_model(void)
{
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;

    small_params(&p);
    nn_err_clear(&err);
    int rc = model_train_csv(csv_path, &p, NULL, NULL, NULL, NULL, &m, &err);
    model_params_fini(&p);
    if (rc != 0) {
        fail_msg("reference training failed: %s", err.msg);
    }
    return m;
}

/*
 * Runs op with the Nth allocation failing, N = 0, 1, ..., until op succeeds with no failure
 * reached. Every failing run must return a negative code. Returns the number of steps.
 */
static long torture(int (*op)(void *ud), void *ud, const char *what)
{
    long n;
    long enomem = 0;

    for (n = 0; n < MAX_STEPS; n++) {
        nn_alloc_fail_after(n);
        int rc = op(ud);
        long made = nn_alloc_count();
        nn_alloc_fail_after(-1);
        if (rc == 0 && made <= n) {
            break; /* every allocation succeeded: done */
        }
        if (rc == 0) {
            continue; /* the failure was absorbed (a fallback path) and the result is whole */
        }
        if (rc > 0 || rc < NN_EDIVERGED) {
            fail_msg("%s: step %ld: unexpected return %d", what, n, rc);
        }
        enomem += rc == NN_ENOMEM;
    }
    assert_true(n < MAX_STEPS);
    assert_true(n > 0);
    print_message("%s: %ld allocation points failed in turn (%ld gave NN_ENOMEM)\n", what, n,
                  enomem);
    return n;
}

struct blob {
    unsigned char *buf;
    size_t len;
};

static int op_load(void *ud)
{
    struct blob *b = ud;
    struct model *m = NULL;
    int rc = model_load(b->buf, b->len, &m, NULL);

    if (rc == 0) {
        assert_non_null(m);
        assert_int_equal(model_n_classes(m), 2);
    } else {
        assert_null(m);
    }
    model_free(m);
    return rc;
}

static void test_blob_load(void **state)
{
    (void)state;
    struct model *m = reference_model();
    struct blob b = {NULL, 0};

    assert_int_equal(model_save(m, &b.buf, &b.len, NULL), 0);
    model_free(m);
    torture(op_load, &b, "model_load");
    nn_free(b.buf);
}

static int op_import(void *ud)
{
    struct model *m = NULL;
    int rc = model_import(ud, &m, NULL);

    if (rc != 0) {
        assert_null(m);
    }
    model_free(m);
    return rc;
}

static void test_json_import(void **state)
{
    (void)state;
    struct model *m = reference_model();
    cJSON *doc = model_export(m);

    assert_non_null(doc);
    model_free(m);
    torture(op_import, doc, "model_import");
    cJSON_Delete(doc);
}

static int op_csv_read(void *ud)
{
    struct tab_csv_opts o;
    struct tab_csv *r = NULL;
    long *rows = ud;
    long n = 0;
    int rc;
    FILE *f = fopen(csv_path, "rb");

    assert_non_null(f);
    tab_csv_opts_default(&o);
    rc = tab_csv_open(f, &o, &r, NULL);
    if (rc == 0) {
        for (;;) {
            rc = tab_csv_next(r, NULL);
            if (rc != 1) {
                break;
            }
            n++;
        }
        if (rc == 0) {
            *rows = n;
        }
        tab_csv_close(r);
    }
    fclose(f);
    return rc;
}

static void test_csv_reader(void **state)
{
    (void)state;
    long rows = -1;

    torture(op_csv_read, &rows, "tab_csv_open/next");
    assert_int_equal(rows, 12);
}

static int op_check(void *ud)
{
    struct model_params p;
    size_t rows = 0, cols = 0;

    (void)ud;
    small_params(&p);
    int rc = model_check_csv(csv_path, &p, NULL, &rows, &cols, NULL);
    model_params_fini(&p);
    if (rc == 0) {
        assert_int_equal(rows, 12);
        assert_int_equal(cols, 5);
    }
    return rc;
}

static void test_csv_check(void **state)
{
    (void)state;
    torture(op_check, NULL, "model_check_csv");
}

static int op_train(void *ud)
{
    struct model_params p;
    struct model *m = NULL;

    (void)ud;
    small_params(&p);
    int rc = model_train_csv(csv_path, &p, NULL, NULL, NULL, NULL, &m, NULL);
    model_params_fini(&p);
    if (rc != 0) {
        assert_null(m);
    }
    model_free(m);
    return rc;
}

static void test_train_full_tier(void **state)
{
    (void)state;
    const char *full = getenv("NEUROND_TORTURE_FULL");
    if (full == NULL || strcmp(full, "1") != 0) {
        skip(); /* full tier only: make test-torture */
    }
    torture(op_train, NULL, "model_train_csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_load),       cmocka_unit_test(test_json_import),
        cmocka_unit_test(test_csv_reader),      cmocka_unit_test(test_csv_check),
        cmocka_unit_test(test_train_full_tier),
    };
    return cmocka_run_group_tests(tests, write_csv, remove_csv);
}
