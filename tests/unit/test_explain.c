/*
 * test_explain: explanations of a model's predictions (model/explain.c).
 *
 * What: the seed's one neuron (caps=1, viagra=0 against a baseline of zeros: caps +7 of logit,
 * viagra 0); a model with no hidden layer giving exactly weight x (input - baseline) per
 * input; completeness on every row of the bundled test sets (attributions add up to output -
 * baseline within 1e-3 relative) with the default network; the baseline kept by save/load and
 * absent ("zeros") in a version-1 blob; the words of a text found in the message only.
 * Why: an explanation is only worth reading if it adds up and names what was there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_priv.h"
#include "nn/alloc.h"
#include "unit_train.h"

static const char one_neuron[] =
    "{\"task\": \"classification\", \"inputs\": [{\"name\": \"caps\", \"type\": \"numeric\", "
    "\"scale\": false}, {\"name\": \"viagra\", \"type\": \"numeric\", \"scale\": false}],"
    " \"label\": {\"name\": \"spam\", \"classes\": [\"ham\", \"spam\"]},"
    " \"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}";

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_seed_neuron(void **state)
{
    cJSON *doc = cJSON_Parse(one_neuron), *inst = cJSON_Parse("{\"caps\": 1, \"viagra\": 0}");
    struct model *m = NULL;
    struct model_expl *ex = NULL;
    float out[2];
    cJSON *j, *attr;

    (void)state;
    assert_int_equal(model_import(doc, &m, NULL), 0);
    assert_int_equal(model_explain_json(m, inst, -1, out, &ex, NULL), 0);
    assert_float_equal(out[1], 0.9933071, 1e-5);
    j = model_expl_to_json(m, ex, 10);
    assert_string_equal(cJSON_GetObjectItem(j, "class")->valuestring, "spam");
    assert_string_equal(cJSON_GetObjectItem(j, "baseline_source")->valuestring, "zeros");
    assert_float_equal(num(j, "output"), 5.0, 1e-6);
    assert_float_equal(num(j, "baseline"), -2.0, 1e-6);
    attr = cJSON_GetObjectItem(j, "attributions");
    assert_true(num(attr, "caps") == 7.0);
    assert_true(num(attr, "viagra") == 0.0);
    assert_string_equal(attr->child->string, "caps"); /* largest first */
    cJSON_Delete(j);
    model_expl_free(ex);
    /* the class asked for: ham's logit is -z */
    assert_int_equal(model_explain_json(m, inst, 0, out, &ex, NULL), 0);
    assert_true(model_expl_input(ex, 0) == -7.0);
    model_expl_free(ex);
    cJSON_Delete(inst);
    cJSON_Delete(doc);
    model_free(m);
}

static struct model *train(const char *path, const char *hidden, const char *epochs,
                           const char *text)
{
    const char *const kv[] = {"hidden", hidden, "epochs", epochs, "text_columns", text, NULL};

    return unit_train(path, kv);
}

/* Splits a CSV line in place (the bundled sets hold no quoted commas). */
static size_t split_line(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *s = line, *c;

    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        cells[n++] = s;
        c = strchr(s, ',');
        if (c == NULL) {
            break;
        }
        *c = '\0';
        s = c + 1;
    }
    return n;
}

/* Explains every row of a test CSV; completeness within 1e-3 relative. */
static void check_file(const struct model *m, const char *path, int *rows)
{
    FILE *f = fopen(path, "r");
    char line[1 << 16], *hdr[512], *cells[512], hbuf[1 << 16];
    const char *in[512];
    size_t nh, i;
    int k;

    assert_non_null(f);
    assert_non_null(fgets(hbuf, sizeof(hbuf), f));
    nh = split_line(hbuf, hdr, 512);
    while (fgets(line, sizeof(line), f) != NULL) {
        struct model_expl *ex = NULL;
        float out[64];
        cJSON *j, *c;
        double sum = 0.0, d;

        split_line(line, cells, 512);
        for (k = 0; k < model_n_inputs(m); k++) {
            in[k] = NULL;
            for (i = 0; i < nh; i++) {
                if (strcmp(hdr[i], model_input_name(m, k)) == 0) {
                    in[k] = cells[i][0] != '\0' ? cells[i] : NULL;
                }
            }
        }
        assert_int_equal(model_explain_cells(m, in, -1, out, &ex, NULL), 0);
        for (k = 0; k < model_n_inputs(m); k++) {
            sum += model_expl_input(ex, k);
        }
        j = model_expl_to_json(m, ex, 5);
        d = num(j, "output") - num(j, "baseline");
        c = cJSON_GetObjectItem(j, "completeness");
        if (!(fabs(sum - d) <= 1e-3 * fmax(fabs(d), 1e-2))) {
            fail_msg("%s: sum %g, output - baseline %g", path, sum, d);
        }
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "converged")));
        assert_string_equal(cJSON_GetObjectItem(j, "baseline_source")->valuestring,
                            "training_means");
        cJSON_Delete(j);
        model_expl_free(ex);
        (*rows)++;
    }
    fclose(f);
}

static void test_completeness_bundled(void **state)
{
    static const char *const sets[] = {"iris",     "breast_cancer", "wine",
                                       "diabetes", "moons",         "digits"};
    char tr[128], te[128];

    (void)state;
    for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
        struct model *m;
        int rows = 0;

        snprintf(tr, sizeof(tr), "tests/data/%s_train.csv", sets[s]);
        snprintf(te, sizeof(te), "tests/data/%s_test.csv", sets[s]);
        m = train(tr, NULL, "30", NULL);
        check_file(m, te, &rows);
        assert_true(rows > 10);
        model_free(m);
    }
}

/* No hidden layer: each numeric input's attribution is w (x - mean) exactly. */
static void test_linear_identity(void **state)
{
    struct model *m;
    struct model_expl *ex = NULL;
    const char *cells[64];
    float dense[256], val[1], out[2];
    int32_t ind[1];
    size_t nnz = 0;
    int k, n;

    (void)state;
    m = train("tests/data/breast_cancer_train.csv", "", "20", NULL); /* hidden= : none */
    n = model_n_inputs(m);
    assert_true(n <= 64 && m->feat->dense_dim <= 256 && m->baseline != NULL);
    for (k = 0; k < n; k++) {
        cells[k] = k % 3 == 0 ? "1.5" : "0.25";
    }
    assert_int_equal(model_explain_cells(m, cells, 1, out, &ex, NULL), 0);
    assert_int_equal(tab_features_encode(m->feat, cells, dense, ind, val, 0, &nnz, NULL), 0);
    for (k = 0; k < n; k++) {
        const struct tab_feat_input *in = &m->feat->inputs[k];
        int o = in->offset;

        if (in->missing_col) {
            continue;
        }
        /* the defaults' ensemble: the mean of each linear member's w (x - mean) */
        double want = 0;
        for (int i = 0; i < m->n_nets; i++) {
            want += ((double)dense[o] - (double)m->baseline[o]) *
                    (double)m->nets[i]->params[m->nets[i]->layers[0].w + (size_t)o];
        }
        want /= m->n_nets;
        assert_float_equal(model_expl_input(ex, k), want, 1e-12 * (1 + fabs(want)));
    }
    model_expl_free(ex);
    model_free(m);
}

/* The baseline survives save/load; a version-1 blob has none and says so. */
static void test_baseline_io(void **state)
{
    struct model *m, *m2 = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    struct model_expl *ex = NULL;
    const char *cells[4] = {"5.1", "3.5", "1.4", "0.2"};
    float out[3];
    cJSON *j;
    FILE *f;
    long fl;

    (void)state;
    m = train("tests/data/iris_train.csv", NULL, "5", NULL);
    assert_int_equal(model_save(m, &buf, &len, NULL), 0);
    assert_int_equal(model_load(buf, len, &m2, NULL), 0);
    assert_non_null(m2->baseline);
    assert_memory_equal(m2->baseline, m->baseline, sizeof(float) * (size_t)m->feat->dense_dim);
    nn_free(buf);
    model_free(m);
    model_free(m2);
    f = fopen("tests/fuzz/corpus_model_blob/iris.nrd", "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    fl = ftell(f);
    rewind(f);
    buf = nn_malloc((size_t)fl);
    assert_int_equal(fread(buf, 1, (size_t)fl, f), (size_t)fl);
    fclose(f);
    assert_int_equal(model_load(buf, (size_t)fl, &m2, NULL), 0);
    assert_null(m2->baseline);
    assert_int_equal(model_explain_cells(m2, cells, -1, out, &ex, NULL), 0);
    j = model_expl_to_json(m2, ex, 3);
    assert_string_equal(cJSON_GetObjectItem(j, "baseline_source")->valuestring, "zeros");
    cJSON_Delete(j);
    model_expl_free(ex);
    model_free(m2);
    nn_free(buf);
}

/* Words named are words of the message, and the text input's total is its words + shape. */
static void test_text_words(void **state)
{
    static const char *const spam[] = {"cheap viagra click here now", "buy viagra cheap pills",
                                       "click here for free money", "free viagra offer today"};
    static const char *const ham[] = {"meeting tomorrow at noon", "please review the report",
                                      "lunch with the team tomorrow", "the report is attached"};
    char path[] = "/tmp/test_explain_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct model *m;
    struct model_expl *ex = NULL;
    const char *cells[1] = {"Cheap VIAGRA, click here"};
    float out[2];
    cJSON *j, *words, *w;
    int r, n = 0;

    (void)state;
    fprintf(f, "text,label\n");
    for (r = 0; r < 40; r++) {
        fprintf(f, "%s,spam\n%s,ham\n", spam[r % 4], ham[r % 4]);
    }
    fclose(f);
    m = train(path, NULL, "60", "text");
    unlink(path);
    assert_int_equal(model_explain_cells(m, cells, 1, out, &ex, NULL), 0);
    j = model_expl_to_json(m, ex, 100);
    words = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "words"), "text");
    assert_true(cJSON_IsArray(words));
    cJSON_ArrayForEach(w, words)
    {
        const char *s = cJSON_GetObjectItem(w, "word")->valuestring;

        assert_true(strcmp(s, "cheap") == 0 || strcmp(s, "viagra") == 0 ||
                    strcmp(s, "click") == 0 || strcmp(s, "here") == 0 ||
                    strcmp(s, "cheap viagra") == 0 || strcmp(s, "viagra click") == 0 ||
                    strcmp(s, "click here") == 0);
        n++;
    }
    assert_int_equal(n, 7);
    /* "viagra" pushed towards spam */
    cJSON_ArrayForEach(w, words)
    {
        if (strcmp(cJSON_GetObjectItem(w, "word")->valuestring, "viagra") == 0) {
            assert_true(num(w, "value") > 0.0);
        }
    }
    cJSON_Delete(j);
    model_expl_free(ex);
    model_free(m);
}

/* An ensemble's attributions are the mean of its members' (IG is linear in the function), and
 * they add up to the mean of the members' logits at the row less at the baseline. */
static void test_ensemble_mean(void **state)
{
    static const char *const widths[2] = {"8", "3"};
    const char *cells[13] = {"13.2", "1.78", "2.14", "11.2", "100", "2.65", "2.76",
                             "0.26", "1.28", "4.38", "1.05", "3.4", "1050"};
    struct model *ms[2], *m;
    struct model_expl *ex[2], *e = NULL;
    double logit[2];
    float out[3];

    (void)state;
    for (int i = 0; i < 2; i++) {
        ms[i] = train("tests/data/wine_train.csv", widths[i], "30", NULL);
        /* one network each (the defaults may give several) */
        for (int j = 1; j < ms[i]->n_nets; j++) {
            nn_net_free(ms[i]->nets[j]);
        }
        ms[i]->n_nets = 1;
        assert_int_equal(model_explain_cells(ms[i], cells, 0, out, &ex[i], NULL), 0);
        cJSON *j = model_expl_to_json(ms[i], ex[i], 3);
        logit[i] = num(j, "output");
        cJSON_Delete(j);
    }
    m = ms[0];
    assert_int_equal(model_add_net(m, ms[1]->nets[0], 0, 0, 0, "second"), 0);
    ms[1]->nets[0] = NULL;
    assert_int_equal(model_explain_cells(m, cells, 0, out, &e, NULL), 0);
    double sum = 0;
    for (int k = 0; k < model_n_inputs(m); k++) {
        double mean = (model_expl_input(ex[0], k) + model_expl_input(ex[1], k)) / 2;
        assert_float_equal(model_expl_input(e, k), mean, 1e-9 + 1e-9 * fabs(mean));
        sum += model_expl_input(e, k);
    }
    cJSON *j = model_expl_to_json(m, e, 3);
    double d = num(j, "output") - num(j, "baseline");
    assert_float_equal(num(j, "output"), (logit[0] + logit[1]) / 2, 1e-9);
    assert_true(fabs(sum - d) <= 2e-3 * fmax(fabs(d), 1e-2));
    cJSON_Delete(j);
    for (int i = 0; i < 2; i++) {
        model_expl_free(ex[i]);
    }
    model_expl_free(e);
    model_free(ms[1]);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_neuron),          cmocka_unit_test(test_linear_identity),
        cmocka_unit_test(test_baseline_io),          cmocka_unit_test(test_text_words),
        cmocka_unit_test(test_completeness_bundled), cmocka_unit_test(test_ensemble_mean),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
