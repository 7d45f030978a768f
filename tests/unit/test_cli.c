/*
 * test_cli: the `neurond` command line, run as a user runs it (the real binary, real files).
 *
 * What: the accuracy floors of the issue (raised to just under what the defaults reach) with
 * default parameters on the bundled data sets (iris, breast cancer, two moons, digits, wine,
 * diabetes RMSE, and the spam set split 80/20),
 * through `neurond train` + `neurond eval --json`; predict's CSV output; inspect's card; the
 * exit statuses (0, 1 with one line naming file:line:column, 2 for bad usage).
 * Why: these are the numbers and behaviours users rely on; a regression anywhere in csv,
 * schema, features, net, train or model_io moves them.
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
#include <sys/wait.h>

static char bin[256];

/* Runs a shell command; captures stdout into out (if not NULL); returns the exit status. */
static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    int st;

    assert_non_null(p);
    if (out != NULL) {
        size_t got;

        while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0) {
            n += got;
        }
        out[n] = '\0';
    } else {
        char sink[4096];

        while (fread(sink, 1, sizeof(sink), p) > 0) {
        }
    }
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Trains on train_csv with default parameters and evaluates on test_csv; returns the eval. */
static cJSON *train_eval(const char *name, const char *train_csv, const char *test_csv,
                         const char *extra)
{
    char cmd[2048], out[65536];
    cJSON *doc;

    snprintf(cmd, sizeof(cmd), "%s train %s -o build/cli_%s.nrd --quiet %s 2>&1", bin, train_csv,
             name, extra);
    if (run(cmd, out, sizeof(out)) != 0) {
        fail_msg("train %s failed: %s", name, out);
    }
    snprintf(cmd, sizeof(cmd), "%s eval build/cli_%s.nrd %s --json", bin, name, test_csv);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    doc = cJSON_Parse(out);
    assert_non_null(doc);
    print_message("%s: %s\n", name, out);
    return doc;
}

static double num(const cJSON *doc, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(doc, k);

    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void floor_acc(const char *name, double floor)
{
    char tr[256], te[256];
    cJSON *doc;

    snprintf(tr, sizeof(tr), "tests/data/%s_train.csv", name);
    snprintf(te, sizeof(te), "tests/data/%s_test.csv", name);
    doc = train_eval(name, tr, te, "");
    assert_true(num(doc, "accuracy") >= floor);
    cJSON_Delete(doc);
}

static void test_iris(void **state)
{
    (void)state;
    floor_acc("iris", 0.93); /* 28 of 30: the ensemble misses one row more here (docs/quality.md) */
}

static void test_breast_cancer(void **state)
{
    (void)state;
    floor_acc("breast_cancer", 0.98);
}

static void test_moons(void **state)
{
    (void)state;
    floor_acc("moons", 0.9675);
}

static void test_digits(void **state)
{
    (void)state;
    floor_acc("digits", 0.98);
}

static void test_wine(void **state)
{
    (void)state;
    floor_acc("wine", 0.99);
}

static void test_diabetes(void **state)
{
    cJSON *doc;

    (void)state;
    doc =
        train_eval("diabetes", "tests/data/diabetes_train.csv", "tests/data/diabetes_test.csv", "");
    assert_true(num(doc, "rmse") <= 51.1); /* 51.04 with the ensemble (50.65 before) */
    assert_true(num(doc, "mae") > 0.0);
    cJSON_Delete(doc);
}

static void test_spam(void **state)
{
    char cmd[2048], out[4096];
    cJSON *doc;

    (void)state;
    assert_int_equal(
        run("xz -dc tests/data/spamassassin_train.csv.xz > build/spam_all.csv", NULL, 0), 0);
    snprintf(cmd, sizeof(cmd),
             "%s split build/spam_all.csv build/spam_train.csv build/spam_test.csv --test 0.2 "
             "--seed 42 2>&1",
             bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "4837 rows"));
    doc = train_eval("spam", "build/spam_train.csv", "build/spam_test.csv", "");
    assert_true(num(doc, "accuracy") >= 0.98);
    assert_true(num(doc, "auc") >= 0.995);
    assert_int_equal((int)num(doc, "rows"), 967);
    cJSON_Delete(doc);
}

static void test_predict_output(void **state)
{
    char cmd[2048], out[65536];
    char *nl;

    (void)state;
    snprintf(cmd, sizeof(cmd),
             "%s train tests/data/iris_train.csv -o build/cli_p.nrd --epochs 50 --quiet >/dev/null"
             " && %s predict build/cli_p.nrd tests/data/iris_test.csv",
             bin, bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(out,
                        "sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm,species,"
                        "prediction,p_setosa,p_versicolor,p_virginica");
    /* 30 data rows follow */
    {
        int lines = 0;
        char *s;

        for (s = nl + 1; *s != '\0'; s++) {
            lines += *s == '\n';
        }
        assert_int_equal(lines, 30);
    }
    snprintf(cmd, sizeof(cmd), "%s inspect build/cli_p.nrd", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    {
        /* the readable card: one table row per CSV column, label last */
        char name[64], type[32], reason[64];
        unsigned long missing, distinct;
        const char *cols = strstr(out, "\ncolumns:\n  name ");
        const char *row = cols != NULL ? strstr(cols, "\n  petal_width_cm ") : NULL;
        const char *imp = strstr(out, "\nimportance (permutation on the validation split: drop "
                                      "in accuracy, mean +- sd of 5 shuffles):\n");
        double mean, sd;

        assert_non_null(strstr(out, "task:      classification, label 'species' (3 classes: "
                                    "setosa, versicolor, virginica)\n"));
        assert_non_null(cols);
        /* the importance table comes before the columns, one row per input */
        assert_non_null(imp);
        assert_true(imp < cols);
        assert_non_null(strstr(imp, "\n  petal_width_cm "));
        assert_int_equal(
            sscanf(strstr(imp, "\n  petal_width_cm "), " %63s %lf +- %lf", name, &mean, &sd), 3);
        assert_true(mean >= -1.0 && mean <= 1.0 && sd >= 0.0);
        assert_non_null(row);
        assert_int_equal(
            sscanf(row, " %63s %31s %lu %lu %63[^\n]", name, type, &missing, &distinct, reason), 5);
        assert_string_equal(type, "numeric");
        assert_int_equal(missing, 0);
        assert_int_equal(distinct, 22);
        assert_string_equal(reason, "every value is a number");
        assert_non_null(
            strstr(out, "\n  species          label              0         3  label\n"));
    }
    snprintf(cmd, sizeof(cmd), "%s inspect build/cli_p.nrd --json", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    {
        cJSON *card = cJSON_Parse(out);
        const cJSON *cls;

        assert_non_null(card);
        cls = cJSON_GetObjectItem(cJSON_GetObjectItem(card, "label"), "classes");
        assert_int_equal(cJSON_GetArraySize(cls), 3);
        assert_string_equal(cJSON_GetArrayItem(cls, 0)->valuestring, "setosa");
        assert_string_equal(cJSON_GetObjectItem(card, "task")->valuestring, "classification");
        cJSON_Delete(card);
    }
}

static void test_exit_status(void **state)
{
    char cmd[2048], out[4096];
    FILE *f;

    (void)state;
    snprintf(cmd, sizeof(cmd), "%s 2>&1", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 2);
    snprintf(cmd, sizeof(cmd), "%s train tests/data/iris_train.csv -o x.nrd --colour red 2>&1",
             bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--colour"));
    snprintf(cmd, sizeof(cmd), "%s train tests/data/iris_train.csv -o x.nrd --epochs -3 2>&1", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "epochs"));
    snprintf(cmd, sizeof(cmd), "%s train build/no_such.csv -o x.nrd 2>&1", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "build/no_such.csv"));
    /* a bad row: one line naming file, line and column */
    f = fopen("build/cli_bad.csv", "w");
    assert_non_null(f);
    fputs("a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,x\n", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s train build/cli_bad.csv -o build/x.nrd 2>&1", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "build/cli_bad.csv:4:"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    /* a file that is not a model */
    snprintf(cmd, sizeof(cmd), "%s inspect tests/data/iris_test.csv 2>&1", bin);
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "not a neurond model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status), cmocka_unit_test(test_predict_output),
        cmocka_unit_test(test_iris),        cmocka_unit_test(test_breast_cancer),
        cmocka_unit_test(test_moons),       cmocka_unit_test(test_wine),
        cmocka_unit_test(test_digits),      cmocka_unit_test(test_diabetes),
        cmocka_unit_test(test_spam),
    };
    const char *b = getenv("BIN");

    snprintf(bin, sizeof(bin), "%s/neurond", b != NULL ? b : "bin");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
