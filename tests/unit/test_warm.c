/*
 * test_warm: the warm start and the champion/challenger gate (model/model_warm.c).
 *
 * What: a warm start begins exactly at its base (the validation loss before any update, in
 * the card, equals the base's own log loss on those very rows, found by splitting as the
 * trainer does); on a shifted data set (a region the base never saw, where its rule is wrong
 * for about a quarter of the rows) it gains at least 10 points on the new rows while losing
 * at most 5 on the old (the stated tolerance), from new rows plus a replay of old ones; a CSV
 * with a column the base lacks, a column the base does not know, or a class it does not know
 * is refused naming it; the gate refuses a challenger trained on flipped labels and promotes
 * one that learnt the shift.
 * Why: users feed corrections back into a served model; it must start from what it knew and
 * must never be replaced by something worse.
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
#include <unistd.h>

#include "model/model.h"
#include "nn/rng.h"
#include "nn/train.h"

static char dir[64];

/* A seeded uniform draw in [a, b). */
static double draw(unsigned long long *s, double a, double b)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return a + (b - a) * (double)(*s >> 11) / 9007199254740992.0;
}

/*
 * Writes n rows "x1,x2,y" to dir/name. Old region (shift 0): x2 in [-1, 1), y = b when
 * x1 > 0. New region (shift 1): x2 in [2, 4), y = b when x1 + x2 - 3 > 0. flip: every label
 * the other way. extra: a header with one more column "zzz".
 */
static const char *write_csv(const char *name, int n, unsigned long long seed, int shift, int flip,
                             int extra)
{
    static char path[8][128];
    static int slot;
    char *p = path[slot++ % 8];
    FILE *f;

    snprintf(p, 128, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "x1,x2%s,y\n", extra ? ",zzz" : "");
    for (int i = 0; i < n; i++) {
        double x1 = draw(&seed, -1, 1);
        double x2 = shift ? draw(&seed, 2, 4) : draw(&seed, -1, 1);
        int b = shift ? x1 + x2 - 3 > 0 : x1 > 0;

        fprintf(f, "%.5f,%.5f%s,%s\n", x1, x2, extra ? ",7" : "", (b ^ flip) ? "b" : "a");
    }
    fclose(f);
    return p;
}

/* Appends the data rows of src to dst (both written by write_csv, the same header). */
static void append_rows(const char *dst, const char *src)
{
    char line[256];
    FILE *in = fopen(src, "r"), *out = fopen(dst, "a");

    assert_non_null(in);
    assert_non_null(out);
    assert_non_null(fgets(line, sizeof(line), in)); /* the header */
    while (fgets(line, sizeof(line), in) != NULL) {
        fputs(line, out);
    }
    fclose(in);
    fclose(out);
}

/* The base: one network (ensemble=false), whose validation loss a warm start begins from
 * (a warm start from an ensemble continues its first network alone: test_from_ensemble). */
static struct model *train_base_with(const char *ensemble)
{
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;

    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "ensemble", ensemble, &err), 0);
    assert_int_equal(model_params_set(&p, "hidden", "16", &err), 0);
    assert_int_equal(model_params_set(&p, "epochs", "60", &err), 0);
    assert_int_equal(model_params_set(&p, "seed", "7", &err), 0);
    assert_int_equal(model_train_csv(write_csv("old.csv", 400, 1, 0, 0, 0), &p, NULL, NULL, NULL,
                                     NULL, &m, &err),
                     0);
    model_params_fini(&p);
    return m;
}

static struct model *train_base(void)
{
    return train_base_with("false");
}

/* A warm start from base on path; strong: 100 epochs at a learning rate of 0.01 (what a
 * deliberately wrong feedback needs to be learnt at all). */
static struct model *warm_with(const struct model *base, const char *path, const char *seed,
                               int strong)
{
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;

    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "seed", seed, &err), 0);
    if (strong) {
        assert_int_equal(model_params_set(&p, "epochs", "100", &err), 0);
        assert_int_equal(model_params_set(&p, "learning_rate", "0.01", &err), 0);
    }
    assert_int_equal(model_params_set(&p, "base", "old@1", &err), 0);
    if (model_train_warm(path, base, &p, NULL, NULL, NULL, NULL, &m, &err) != 0) {
        fail_msg("warm start: %s", err.msg);
    }
    model_params_fini(&p);
    return m;
}

static struct model *warm(const struct model *base, const char *path, const char *seed)
{
    return warm_with(base, path, seed, 0);
}

static double eval(const struct model *m, const char *path, const char *key)
{
    cJSON *doc = NULL;
    struct nn_err err;
    double v;

    assert_int_equal(model_eval_csv(m, path, ',', NULL, &doc, &err), 0);
    v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(doc, key));
    cJSON_Delete(doc);
    return v;
}

/* The first validation loss of a warm start is the base's own on the same rows. */
/* A warm start from the defaults' ensemble gives one network, the first member continued. */
static void test_from_ensemble(void **state)
{
    struct model *base = train_base_with("true"), *m;
    cJSON *a, *b;

    (void)state;
    a = model_card(base);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "ensemble"), "k")->valueint, 16);
    m = warm(base, write_csv("more_e.csv", 250, 99, 0, 0, 0), "11");
    b = model_card(m);
    assert_null(cJSON_GetObjectItem(b, "ensemble"));
    assert_non_null(cJSON_GetObjectItem(b, "warm_start"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    model_free(m);
    model_free(base);
}

static void test_starts_from_base(void **state)
{
    struct model *base = train_base(), *m;
    const char *data = write_csv("more.csv", 250, 99, 0, 0, 0);
    float labels[250];
    size_t tr[250], va[250], n_tr, n_va;
    struct nn_rng rng;
    char line[256], val_path[128];
    FILE *in, *out;
    cJSON *card, *w;
    double base_loss, l0;
    int i;

    (void)state;
    m = warm(base, data, "11");
    /* the trainer's split: seeded with the seed, stratified over the class indices */
    in = fopen(data, "r");
    assert_non_null(fgets(line, sizeof(line), in));
    for (i = 0; i < 250 && fgets(line, sizeof(line), in) != NULL; i++) {
        labels[i] = line[strlen(line) - 2] == 'b' ? 1.0f : 0.0f;
    }
    nn_rng_seed(&rng, 11);
    assert_int_equal(
        nn_train_split_stratified(labels, 250, 2, 0.2, &rng, tr, &n_tr, va, &n_va, NULL), 0);
    assert_true(n_va >= 40);
    snprintf(val_path, sizeof(val_path), "%s/val.csv", dir);
    out = fopen(val_path, "w");
    rewind(in);
    char rows[251][64];
    for (i = 0; i < 251 && fgets(rows[i], sizeof(rows[i]), in) != NULL; i++) {
    }
    fputs(rows[0], out);
    for (size_t k = 0; k < n_va; k++) {
        fputs(rows[va[k] + 1], out);
    }
    fclose(out);
    fclose(in);
    base_loss = eval(base, val_path, "log_loss");
    card = model_card(m);
    w = cJSON_GetObjectItemCaseSensitive(card, "warm_start");
    assert_non_null(w);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "base")), "old@1");
    l0 = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(w, "initial_val_loss"));
    assert_true(fabs(l0 - base_loss) <= 1e-4 * (1 + base_loss));
    /* and it trained from there with the warm defaults */
    cJSON *params = cJSON_GetObjectItemCaseSensitive(card, "params");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(params, "epochs")),
                     MODEL_WARM_EPOCHS);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(params, "patience")),
                     MODEL_WARM_PATIENCE);
    assert_float_equal(
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(params, "learning_rate")),
        0.001 * MODEL_WARM_LR_SHARE, 1e-7);
    cJSON_Delete(card);
    model_free(m);
    model_free(base);
}

/* On a shifted set it learns the new region and keeps the old one (within 5 points). */
static void test_shift(void **state)
{
    struct model *base = train_base(), *m;
    const char *old_test = write_csv("old_test.csv", 400, 2, 0, 0, 0);
    const char *new_test = write_csv("new_test.csv", 400, 3, 1, 0, 0);
    const char *data = write_csv("shift.csv", 400, 4, 1, 0, 0);
    double base_new, base_old, new_acc, old_acc;
    cJSON *verdict = NULL;
    struct nn_err err;

    (void)state;
    append_rows(data, write_csv("replay.csv", 400, 5, 0, 0, 0));
    base_new = eval(base, new_test, "accuracy");
    base_old = eval(base, old_test, "accuracy");
    m = warm(base, data, "12");
    new_acc = eval(m, new_test, "accuracy");
    old_acc = eval(m, old_test, "accuracy");
    print_message("base: new %.3f old %.3f; warm: new %.3f old %.3f\n", base_new, base_old, new_acc,
                  old_acc);
    assert_true(base_new < 0.85);
    assert_true(new_acc >= base_new + 0.10);
    assert_true(old_acc >= base_old - 0.05);
    /* the gate promotes it on a holdout of both regions */
    append_rows(new_test, old_test);
    assert_int_equal(model_gate(base, m, new_test, ',', NULL, &verdict, &err), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(verdict, "promoted")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(verdict, "metric")),
                        "accuracy");
    cJSON_Delete(verdict);
    model_free(m);
    model_free(base);
}

/* Flipped labels make a worse model: the gate refuses it. */
static void test_gate_refuses_flipped(void **state)
{
    struct model *base = train_base(), *m;
    const char *data = write_csv("flipped.csv", 300, 6, 0, 1, 0);
    const char *holdout = write_csv("holdout.csv", 300, 7, 0, 0, 0);
    cJSON *verdict = NULL;
    struct nn_err err;

    (void)state;
    m = warm_with(base, data, "13", 1);
    assert_int_equal(model_gate(base, m, holdout, ',', NULL, &verdict, &err), 0);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(verdict, "promoted")));
    print_message(
        "gate: accuracy %g -> %g, log loss %g -> %g\n",
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(verdict, "champion")),
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(verdict, "challenger")),
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(verdict, "champion_log_loss")),
        cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(verdict, "challenger_log_loss")));
    cJSON_Delete(verdict);
    model_free(m);
    model_free(base);
}

/* A column or a class the base does not know is refused, named. */
static void test_mismatch(void **state)
{
    struct model *base = train_base(), *m = NULL;
    struct model_params p;
    struct nn_err err;
    char path[128];
    FILE *f;

    (void)state;
    model_params_default(&p);
    /* one more column */
    assert_int_equal(
        model_warm_check(base, write_csv("extra.csv", 20, 8, 0, 0, 1), ',', NULL, &err), NN_EINVAL);
    assert_string_equal(err.field, "zzz");
    /* an input missing */
    snprintf(path, sizeof(path), "%s/missing.csv", dir);
    f = fopen(path, "w");
    fputs("x1,y\n0.5,b\n-0.5,a\n", f);
    fclose(f);
    assert_int_equal(model_warm_check(base, path, ',', NULL, &err), NN_EINVAL);
    assert_string_equal(err.field, "x2");
    assert_int_equal(model_train_warm(path, base, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_null(m);
    assert_string_equal(err.field, "x2");
    /* a class the base does not know: the label column, the class named, its line */
    snprintf(path, sizeof(path), "%s/class.csv", dir);
    f = fopen(path, "w");
    fputs("x1,x2,y\n0.5,0.1,b\n-0.5,0.2,maybe\n", f);
    fclose(f);
    assert_int_equal(model_warm_check(base, path, ',', NULL, &err), NN_EINVAL);
    assert_string_equal(err.field, "y");
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.msg, "'maybe'"));
    assert_int_equal(model_train_warm(path, base, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_non_null(strstr(err.msg, "'maybe'"));
    /* a CSV that fits passes */
    assert_int_equal(model_warm_check(base, write_csv("fits.csv", 20, 9, 1, 0, 0), ',', NULL, &err),
                     0);
    model_params_fini(&p);
    model_free(base);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_warm.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_from_base),
        cmocka_unit_test(test_from_ensemble),
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_gate_refuses_flipped),
        cmocka_unit_test(test_mismatch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
