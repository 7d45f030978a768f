/*
 * test_model: a whole model — trained from a CSV file, saved, loaded, exported, imported.
 *
 * What: API.md's hand-written one-neuron model predicts 0.9933; train -> save -> load gives
 * identical predictions and a blob that saves back to the same bytes; every truncation and
 * 1,000 random byte flips of a valid blob are rejected with an error (run under ASan in CI);
 * export -> import predicts the same; same seed = bit-identical weights, another seed
 * differs; bad parameters name the parameter; the quality gate refuses a model that cannot
 * tell the classes apart; the numeric fast path (model_predict_num, the server's) gives
 * the same bits as the JSON path, NaN meaning missing, and refuses a model with a text input.
 * Why: the blob is what the daemon stores and loads from strangers' uploads; the JSON is
 * what users hand-write; determinism is a promise of the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/rng.h"

static const char one_neuron[] =
    "{\"task\": \"classification\", \"inputs\": [{\"name\": \"caps\", \"type\": \"numeric\", "
    "\"scale\": false}, {\"name\": \"viagra\", \"type\": \"numeric\", \"scale\": false}],"
    " \"label\": {\"name\": \"spam\", \"classes\": [\"ham\", \"spam\"]},"
    " \"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}";

static struct model *import_text(const char *text, struct nn_err *err)
{
    cJSON *doc = cJSON_Parse(text);
    struct model *m = NULL;

    assert_non_null(doc);
    model_import(doc, &m, err);
    cJSON_Delete(doc);
    return m;
}

static void test_one_neuron(void **state)
{
    struct nn_err err;
    struct model *m;
    cJSON *inst;
    float out[2];

    (void)state;
    m = import_text(one_neuron, &err);
    assert_non_null(m);
    assert_int_equal(model_task(m), NN_TASK_BINARY);
    assert_string_equal(model_class(m, 1), "spam");
    inst = cJSON_Parse("{\"caps\": 1, \"viagra\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), 0);
    assert_float_equal(out[1], 0.9933, 5e-5);
    assert_float_equal(out[0] + out[1], 1.0, 1e-6);
    cJSON_Delete(inst);
    /* arrays in input order give the same */
    inst = cJSON_Parse("[1, 0]");
    assert_int_equal(model_predict_json(m, inst, out, &err), 0);
    assert_float_equal(out[1], 0.9933071, 1e-5);
    cJSON_Delete(inst);
    /* an unknown input is named */
    inst = cJSON_Parse("{\"caps\": 1, \"viagar\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), NN_EINVAL);
    assert_string_equal(err.field, "viagar");
    cJSON_Delete(inst);
    /* a string in a numeric input is named */
    inst = cJSON_Parse("{\"caps\": \"lots\", \"viagra\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), NN_EINVAL);
    assert_string_equal(err.field, "caps");
    cJSON_Delete(inst);
    model_free(m);
}

static void test_import_errors(void **state)
{
    struct nn_err err;

    (void)state;
    /* wrong number of weights for the inputs */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].weights[0]");
    /* a non-number weight */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[\"x\"]], \"bias\": [0], \"activation\": \"sigmoid\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].weights[0][0]");
    /* an unknown activation */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[1]], \"bias\": [0], \"activation\": \"swish\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].activation");
    /* no layers */
    assert_null(import_text("{\"task\": \"regression\", \"inputs\": []}", &err));
    assert_string_equal(err.field, "layers");
}

/* Trains iris with small settings; the shared fixture of the blob tests. */
static struct model *train_iris(unsigned long long seed, const char *hidden)
{
    struct model_params p;
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;
    char s[32];

    model_params_default(&p);
    model_limits_default(&lim);
    snprintf(s, sizeof(s), "%llu", seed);
    assert_int_equal(model_params_set(&p, "seed", s, &err), 0);
    assert_int_equal(model_params_set(&p, "hidden", hidden, &err), 0);
    assert_int_equal(model_params_set(&p, "epochs", "40", &err), 0);
    if (model_train_csv("tests/data/iris_train.csv", &p, &lim, NULL, NULL, NULL, &m, &err) != 0) {
        fail_msg("training iris failed: %s", err.msg);
    }
    model_params_fini(&p);
    return m;
}

static void test_blob_round_trip(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    unsigned char *blob = NULL, *blob2 = NULL;
    size_t len, len2;
    struct nn_err err;
    FILE *in, *o1, *o2;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;

    (void)state;
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_int_equal(model_save(m2, &blob2, &len2, &err), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(blob, blob2, len);
    /* predictions of the test file are identical, byte for byte */
    o1 = open_memstream(&t1, &n1);
    o2 = open_memstream(&t2, &n2);
    in = fopen("tests/data/iris_test.csv", "rb");
    assert_int_equal(model_predict_csv(m, in, o1, ',', 0, NULL, &err), 0);
    rewind(in);
    assert_int_equal(model_predict_csv(m2, in, o2, ',', 0, NULL, &err), 0);
    fclose(in);
    fclose(o1);
    fclose(o2);
    assert_int_equal(n1, n2);
    assert_true(n1 > 100);
    assert_memory_equal(t1, t2, n1);
    assert_non_null(strstr(t1, "prediction,p_setosa,p_versicolor,p_virginica"));
    free(t1);
    free(t2);
    nn_free(blob);
    nn_free(blob2);
    model_free(m);
    model_free(m2);
}

static void test_blob_hostile(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    unsigned char *blob = NULL, *copy;
    struct nn_rng rng;
    struct nn_err err;
    size_t len, i;
    int flips;

    (void)state;
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    copy = nn_malloc(len);
    /* every truncation */
    for (i = 0; i < len; i++) {
        memcpy(copy, blob, i);
        m2 = (struct model *)1;
        assert_true(model_load(copy, i, &m2, &err) < 0);
        assert_null(m2);
        assert_true(strlen(err.msg) > 0);
    }
    /* 1,000 random byte flips: every one rejected (the checksum), none crashes */
    nn_rng_seed(&rng, 7);
    for (flips = 0; flips < 1000; flips++) {
        size_t at = (size_t)nn_rng_below(&rng, len);
        unsigned char x = (unsigned char)(1 + nn_rng_below(&rng, 255));

        memcpy(copy, blob, len);
        copy[at] ^= x;
        assert_true(model_load(copy, len, &m2, &err) < 0);
        assert_null(m2);
    }
    nn_free(copy);
    nn_free(blob);
    model_free(m);
}

/* m exported to JSON text and imported back (a new model). */
static struct model *export_import(const struct model *m)
{
    struct model *m2 = NULL;
    struct nn_err err;
    cJSON *doc = model_export(m);
    char *text;

    assert_non_null(doc);
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    doc = cJSON_Parse(text);
    cJSON_free(text);
    assert_int_equal(model_import(doc, &m2, &err), 0);
    cJSON_Delete(doc);
    return m2;
}

static void test_export_import(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    struct nn_err err;
    cJSON *inst;
    float a[3], b[3];

    (void)state;
    m2 = export_import(m);
    inst =
        cJSON_Parse("{\"sepal_length_cm\": 6.7, \"sepal_width_cm\": 3.0, \"petal_length_cm\": 5.2, "
                    "\"petal_width_cm\": 2.3}");
    assert_int_equal(model_predict_json(m, inst, a, &err), 0);
    assert_int_equal(model_predict_json(m2, inst, b, &err), 0);
    assert_memory_equal(a, b, sizeof(a));
    assert_true(b[2] > 0.5f); /* virginica */
    cJSON_Delete(inst);
    model_free(m);
    model_free(m2);
}

/* Keeps only m's first network (a model as blobs before version 4 held it). */
static void keep_first_net(struct model *m)
{
    for (int i = 1; i < m->n_nets; i++) {
        nn_net_free(m->nets[i]);
        m->nets[i] = NULL;
    }
    m->n_nets = 1;
    memset(&m->member[0], 0, sizeof(m->member[0]));
    nn_free(m->why);
    m->why = NULL;
}

/* Three iris models of one seed share their pipeline: the second and third give their nets to
 * the first, an ensemble of 3 (widths 8, 4, 16). probs[3][rows * 3]: each member's own
 * probabilities on the rows of x (4 inputs a row) before. */
static struct model *iris_ensemble(const double *x, size_t rows, float *probs)
{
    static const char *const widths[3] = {"8", "4", "16"};
    struct model *ms[3], *m;
    struct nn_err err;

    for (int i = 0; i < 3; i++) {
        ms[i] = train_iris(42, widths[i]);
        keep_first_net(ms[i]);
        assert_int_equal(model_predict_num(ms[i], x, rows, probs + (size_t)i * rows * 3, &err), 0);
    }
    m = ms[0];
    snprintf(m->member[0].origin, sizeof(m->member[0].origin), "width 8");
    for (int i = 1; i < 3; i++) {
        assert_int_equal(model_add_net(m, ms[i]->nets[0], 0.01f, 0.001f, 7, widths[i]), 0);
        ms[i]->nets[0] = NULL;
        model_free(ms[i]);
    }
    m->why = nn_strdup("a test of three widths");
    return m;
}

static const double iris_x[4 * 4] = {6.7, 3.0, 5.2, 2.3, 5.1, 3.5, 1.4, 0.2,
                                     5.9, 3.0, 4.2, 1.5, 6.3, 2.8, 5.1, 1.5};

/* The ensemble serves the mean of its members' probabilities, on every path. */
static void test_ensemble_mean(void **state)
{
    float probs[3 * 4 * 3], out[4 * 3], one[3];
    struct model *m = iris_ensemble(iris_x, 4, probs);
    struct nn_err err;
    char text[200];

    (void)state;
    assert_int_equal(m->n_nets, 3);
    assert_int_equal(model_predict_num(m, iris_x, 4, out, &err), 0);
    for (int i = 0; i < 4 * 3; i++) {
        float mean = ((probs[i] + probs[12 + i]) + probs[24 + i]) / 3.0f;
        assert_float_equal(out[i], mean, 1e-6);
    }
    /* the members differ: the mean is not one of them */
    assert_memory_not_equal(probs, probs + 12, sizeof(float) * 12);
    /* the JSON path gives the fast path's bits */
    for (int row = 0; row < 4; row++) {
        const double *v = iris_x + 4 * row;
        snprintf(text, sizeof(text), "[%.17g, %.17g, %.17g, %.17g]", v[0], v[1], v[2], v[3]);
        cJSON *inst = cJSON_Parse(text);
        assert_int_equal(model_predict_json(m, inst, one, &err), 0);
        assert_memory_equal(one, out + 3 * row, sizeof(one));
        cJSON_Delete(inst);
    }
    /* the card names k and each member */
    cJSON *card = model_card(m), *e = cJSON_GetObjectItem(card, "ensemble");
    assert_non_null(e);
    assert_int_equal(cJSON_GetObjectItem(e, "k")->valueint, 3);
    cJSON *mb = cJSON_GetObjectItem(e, "members");
    assert_int_equal(cJSON_GetArraySize(mb), 3);
    assert_int_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(mb, 2), "hidden"), 0)->valueint,
        16);
    assert_string_equal(cJSON_GetObjectItem(e, "why")->valuestring, "a test of three widths");
    cJSON_Delete(card);
    model_free(m);
}

/* Predictions of the iris test file as CSV text (caller frees). */
static char *predict_iris_csv(const struct model *m, size_t *n)
{
    struct nn_err err;
    char *t = NULL;
    FILE *o = open_memstream(&t, n);
    FILE *in = fopen("tests/data/iris_test.csv", "rb");

    assert_non_null(in);
    assert_int_equal(model_predict_csv(m, in, o, ',', 0, NULL, &err), 0);
    fclose(in);
    fclose(o);
    return t;
}

/* a and b predict the iris test file with the same bytes. */
static void assert_same_predictions(const struct model *a, const struct model *b)
{
    size_t n1, n2;
    char *t1 = predict_iris_csv(a, &n1), *t2 = predict_iris_csv(b, &n2);

    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    free(t1);
    free(t2);
}

/* An ensemble's blob loads back to the same bytes and predictions; the hostile blob cases hold
 * for it; a version 4 blob (one net, no ensemble section) still loads. */
static void test_ensemble_blob(void **state)
{
    float probs[3 * 4 * 3];
    struct model *m = iris_ensemble(iris_x, 4, probs), *m2 = NULL;
    unsigned char *blob = NULL, *blob2 = NULL, *copy;
    size_t len, len2, i;
    struct nn_rng rng;
    struct nn_err err;

    (void)state;
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_int_equal(m2->n_nets, 3);
    assert_int_equal(model_save(m2, &blob2, &len2, &err), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(blob, blob2, len);
    assert_same_predictions(m, m2);
    model_free(m2);
    nn_free(blob2);
    /* every truncation and 1,000 flips are refused */
    copy = nn_malloc(len);
    for (i = 0; i < len; i++) {
        memcpy(copy, blob, i);
        assert_true(model_load(copy, i, &m2, &err) < 0);
        assert_null(m2);
    }
    nn_rng_seed(&rng, 9);
    for (i = 0; i < 1000; i++) {
        memcpy(copy, blob, len);
        copy[nn_rng_below(&rng, len)] ^= (unsigned char)(1 + nn_rng_below(&rng, 255));
        assert_true(model_load(copy, len, &m2, &err) < 0);
        assert_null(m2);
    }
    nn_free(copy);
    nn_free(blob);
    /* version 4: the same blob without the ensemble section (count 1, one member, no why) */
    keep_first_net(m);
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    size_t tail = 4 + (4 + 4 + 4 + 4) + 4;
    memmove(blob + len - 4 - tail, blob + len - 4, 4);
    len -= tail;
    blob[4] = 4;
    model_blob_seal(blob, len);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_int_equal(m2->n_nets, 1);
    assert_same_predictions(m, m2);
    model_free(m2);
    /* the count field of a version 5 blob: 0 and MODEL_MAX_NETS + 1 are refused */
    nn_free(blob);
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    uint32_t bad[2] = {0, MODEL_MAX_NETS + 1};
    for (int b = 0; b < 2; b++) {
        memcpy(blob + len - 4 - tail, &bad[b], 4);
        model_blob_seal(blob, len);
        assert_int_equal(model_load(blob, len, &m2, &err), NN_EFORMAT);
        assert_non_null(strstr(err.msg, "networks"));
    }
    nn_free(blob);
    model_free(m);
}

/* Export -> import of an ensemble predicts the same bytes; members keep their training. */
static void test_ensemble_export(void **state)
{
    float probs[3 * 4 * 3];
    struct model *m = iris_ensemble(iris_x, 4, probs), *m2 = NULL;
    struct nn_err err;
    cJSON *doc;

    (void)state;
    doc = model_export(m);
    assert_int_equal(cJSON_GetObjectItem(doc, "format_version")->valueint, 5);
    cJSON_Delete(doc);
    m2 = export_import(m);
    assert_int_equal(m2->n_nets, 3);
    assert_string_equal(m2->member[2].origin, "16");
    assert_int_equal(m2->member[1].epochs, 7);
    assert_same_predictions(m, m2);
    model_free(m2);
    /* a member without layers is named */
    doc = model_export(m);
    cJSON *mb = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "ensemble"), "members");
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(mb, 1), "layers");
    assert_int_equal(model_import(doc, &m2, &err), NN_EINVAL);
    assert_string_equal(err.field, "ensemble.members[1].layers");
    cJSON_Delete(doc);
    /* a single net still exports as format 4 */
    keep_first_net(m);
    doc = model_export(m);
    assert_int_equal(cJSON_GetObjectItem(doc, "format_version")->valueint, 4);
    assert_null(cJSON_GetObjectItem(doc, "ensemble"));
    cJSON_Delete(doc);
    model_free(m);
}

/* The defaults (no l2 given) serve the refitted net and the holdout nets of the 3 best decays;
 * ensemble=false, a given l2, patience 0 or 16 nets past 2^20 weights keep one net. */
static void test_default_ensemble(void **state)
{
    struct model_params p;
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;
    float out[3], mean[3] = {0, 0, 0}, one[3];
    double x[4] = {5.9, 3.0, 4.2, 1.5};

    (void)state;
    m = train_iris(42, "8");
    assert_int_equal(m->n_nets, 16);
    assert_string_equal(m->member[0].origin, "refit on all rows");
    /* 5 holdouts of each of 3 decays, the chosen one among them */
    int chosen = 0, decays = 0;
    for (int i = 1; i < 16; i++) {
        assert_non_null(strstr(m->member[i].origin, "holdout"));
        chosen += m->member[i].l2 == m->params.train.l2;
        decays += i == 1 || m->member[i].l2 != m->member[i - 1].l2;
    }
    assert_int_equal(chosen, 5);
    assert_int_equal(decays, 3);
    assert_non_null(m->why);
    /* what is served is the mean of the 21 */
    assert_int_equal(model_predict_num(m, x, 1, out, &err), 0);
    struct model tmp = *m;
    for (int i = 0; i < 16; i++) {
        tmp.nets[0] = m->nets[i];
        tmp.n_nets = 1;
        assert_int_equal(model_predict_num(&tmp, x, 1, one, &err), 0);
        for (int c = 0; c < 3; c++) {
            mean[c] += one[c] / 16;
        }
    }
    for (int c = 0; c < 3; c++) {
        assert_float_equal(out[c], mean[c], 1e-5);
    }
    model_free(m);
    static const char *const one_net[][2] = {
        {"ensemble", "false"}, {"l2", "0.001"}, {"patience", "0"}, {"hidden", "1024,256"}};
    for (size_t i = 0; i < sizeof(one_net) / sizeof(one_net[0]); i++) {
        model_params_default(&p);
        model_limits_default(&lim);
        assert_int_equal(model_params_set(&p, "epochs", "20", &err), 0);
        assert_int_equal(model_params_set(&p, one_net[i][0], one_net[i][1], &err), 0);
        m = NULL;
        assert_int_equal(
            model_train_csv("tests/data/iris_train.csv", &p, &lim, NULL, NULL, NULL, &m, &err), 0);
        assert_int_equal(m->n_nets, 1);
        assert_null(m->why);
        model_free(m);
        model_params_fini(&p);
    }
}

static void test_determinism(void **state)
{
    struct model *a = train_iris(42, "16"), *b = train_iris(42, "16"), *c = train_iris(43, "16");

    (void)state;
    assert_int_equal(a->nets[0]->n_params, b->nets[0]->n_params);
    assert_memory_equal(a->nets[0]->params, b->nets[0]->params,
                        a->nets[0]->n_params * sizeof(float));
    assert_memory_not_equal(a->nets[0]->params, c->nets[0]->params,
                            a->nets[0]->n_params * sizeof(float));
    model_free(a);
    model_free(b);
    model_free(c);
}

static void test_params(void **state)
{
    struct model_params p;
    struct nn_err err;

    (void)state;
    model_params_default(&p);
    assert_int_equal(p.n_hidden, 1);
    assert_int_equal(p.hidden[0], 64);
    assert_int_equal(p.train.epochs, 300);
    assert_int_equal(p.train.patience, 20);
    assert_true(p.train.l2 < 0); /* not given: chosen on the data */
    assert_int_equal(model_params_set(&p, "l2", "0", &err), 0);
    assert_true(p.train.l2 == 0.0f);
    assert_int_equal(model_params_set(&p, "hidden", "16,32", &err), 0);
    assert_int_equal(p.n_hidden, 2);
    assert_int_equal(p.hidden[1], 32);
    assert_int_equal(p.hidden[0], 16);
    assert_int_equal(model_params_set(&p, "hidden", "", &err), 0);
    assert_int_equal(p.n_hidden, 0);
    assert_int_equal(model_params_set(&p, "hidden", "64,,2", &err), NN_EINVAL);
    assert_string_equal(err.field, "hidden");
    assert_int_equal(model_params_set(&p, "epochs", "0", &err), NN_EINVAL);
    assert_string_equal(err.field, "epochs");
    assert_int_equal(model_params_set(&p, "learning_rate", "abc", &err), NN_EINVAL);
    assert_int_equal(model_params_set(&p, "optimizer", "rmsprop", &err), NN_EINVAL);
    assert_int_equal(model_params_set(&p, "colour", "red", &err), NN_ENOTFOUND);
    assert_string_equal(err.field, "colour");
    assert_int_equal(model_params_set(&p, "delimiter", "tab", &err), 0);
    assert_int_equal(p.delimiter, '\t');
    model_params_fini(&p);
}

/* A label that the features cannot predict at all: the quality gate refuses the model. */
static void test_quality_gate(void **state)
{
    const char *path = "build/test_gate.csv";
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;
    FILE *f = fopen(path, "w");
    int i;

    (void)state;
    assert_non_null(f);
    fprintf(f, "x,label\n");
    for (i = 0; i < 200; i++) {
        fprintf(f, "1,%s\n", i % 3 == 0 ? "a" : "b"); /* constant feature */
    }
    fclose(f);
    model_params_default(&p);
    model_params_set(&p, "epochs", "5", &err);
    /* a constant column is ignored by default: no input is left */
    assert_int_equal(model_train_csv(path, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "no input columns"));
    /* named as an input, it gives the network nothing: the gate refuses the model */
    model_params_set(&p, "categorical_columns", "x", &err);
    assert_int_equal(model_train_csv(path, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "every validation row"));
    model_params_fini(&p);
    remove(path);
}

/* threshold= and target_fpr= set the decision threshold; it survives save and load. */
static void test_threshold(void **state)
{
    struct model_params p;
    struct model *m = NULL, *m2 = NULL;
    unsigned char *blob = NULL;
    const char *src = NULL;
    struct nn_err err;
    size_t len;
    double t;

    (void)state;
    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "target_fpr", "0.01", &err), 0);
    assert_int_equal(model_params_set(&p, "threshold", "1.5", &err), NN_EINVAL);
    assert_int_equal(
        model_train_csv("tests/data/breast_cancer_train.csv", &p, NULL, NULL, NULL, NULL, &m, &err),
        0);
    assert_int_equal(model_positive_class(m), 1); /* benign, malignant */
    t = model_threshold(m, &src);
    assert_string_equal(src, "target_fpr");
    assert_true(t > 0.0 && t <= 1.0);
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_true(model_threshold(m2, &src) == t);
    assert_string_equal(src, "target_fpr");
    nn_free(blob);
    model_free(m);
    model_free(m2);
    model_params_fini(&p);

    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "threshold", "0.8", &err), 0);
    assert_int_equal(model_params_set(&p, "epochs", "5", &err), 0);
    assert_int_equal(
        model_train_csv("tests/data/breast_cancer_train.csv", &p, NULL, NULL, NULL, NULL, &m, &err),
        0);
    assert_true(model_threshold(m, &src) == 0.8);
    assert_string_equal(src, "threshold");
    model_free(m);
    model_params_fini(&p);
    /* the one-neuron model: spam is the positive class, default threshold */
    m = import_text(one_neuron, &err);
    assert_int_equal(model_positive_class(m), 1);
    assert_true(model_threshold(m, &src) == 0.5);
    assert_string_equal(src, "default");
    model_free(m);
}

/* The server's fast path and the JSON path must not disagree by one bit. */
static void test_predict_num(void **state)
{
    struct model *m = train_iris(42, "8");
    struct nn_err err;
    double x[3 * 4] = {6.7, 3.0, 5.2, 2.3, 5.1, 3.5, 1.4, 0.2, 5.9, 3.0, NAN, 1.8};
    float fast[9], slow[3];
    char text[200];

    (void)state;
    assert_int_equal(model_predict_num(m, x, 3, fast, &err), 0);
    for (int row = 0; row < 3; row++) {
        const double *v = x + 4 * row;
        if (isnan(v[2])) {
            snprintf(text, sizeof(text), "[%.17g, %.17g, null, %.17g]", v[0], v[1], v[3]);
        } else {
            snprintf(text, sizeof(text), "[%.17g, %.17g, %.17g, %.17g]", v[0], v[1], v[2], v[3]);
        }
        cJSON *inst = cJSON_Parse(text);
        assert_non_null(inst);
        assert_int_equal(model_predict_json(m, inst, slow, &err), 0);
        assert_memory_equal(fast + 3 * row, slow, sizeof(slow));
        cJSON_Delete(inst);
    }
    assert_true(fast[2] > 0.5f); /* virginica */
    assert_true(fast[3] > 0.5f); /* setosa */
    model_free(m);
    /* a model with a text input is not for this path */
    struct model_params p;
    struct model_limits lim;
    model_params_default(&p);
    model_limits_default(&lim);
    assert_int_equal(model_params_set(&p, "epochs", "2", &err), 0);
    char path[] = "/tmp/neurond-test-num-text-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("n,words,label\n", f);
    for (int i = 0; i < 40; i++) {
        fprintf(f, "%d,%s,%s\n", i, i % 2 ? "cheap pills now" : "meeting at noon",
                i % 2 ? "a" : "b");
    }
    fclose(f);
    assert_int_equal(model_params_set(&p, "text_columns", "words", &err), 0);
    m = NULL;
    int trained = model_train_csv(path, &p, &lim, NULL, NULL, NULL, &m, &err);
    unlink(path);
    if (trained != 0) {
        fail_msg("training the text model failed: %s", err.msg);
    }
    double y[2] = {1, 2};
    nn_err_clear(&err);
    assert_int_equal(model_predict_num(m, y, 1, fast, &err), NN_EINVAL);
    assert_string_equal(err.field, "words");
    model_free(m);
    model_params_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_neuron),      cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_params),          cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_blob_hostile),    cmocka_unit_test(test_export_import),
        cmocka_unit_test(test_determinism),     cmocka_unit_test(test_quality_gate),
        cmocka_unit_test(test_threshold),       cmocka_unit_test(test_predict_num),
        cmocka_unit_test(test_ensemble_mean),   cmocka_unit_test(test_ensemble_blob),
        cmocka_unit_test(test_ensemble_export), cmocka_unit_test(test_default_ensemble),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
