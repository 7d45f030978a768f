/*
 * test_text_decoder: the decoder a text input uses is chosen at fit time, stored in the model
 * and called through tab/'s interface; mail/'s needs no set-up.
 *
 * What: a program that never calls mail_global_init trains on raw e-mails whose words are
 * visible only once the base64 bodies are decoded, and does not crash: the model scores the
 * decoded spam words high and the ham words low, and decodes a raw message at prediction too.
 * A pipeline fitted without a decoder reads raw text as it is and saves as a version-2
 * section naming no decoder; one fitted with "mail" saves as version 1 (old blobs unchanged);
 * a stored name that the loader does not know, in the blob or in JSON, is refused.
 * Why: the spam filter trains on raw mail; a forgotten global init used to segfault in GMime,
 * and old models must load with the behaviour they had.
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

#include "model/features_json.h"
#include "model/model.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/train.h"
#include "tab/buf.h"
#include "tab/csv.h"
#include "tab/features.h"
#include "tab/schema.h"

static const char *const spam_words[] = {"prize", "lottery", "winner", "cash", "bonus", "claim"};
static const char *const ham_words[] = {"meeting", "agenda", "report",
                                        "project", "budget", "review"};
static const char *const filler[] = {"the", "and", "today", "please", "with", "from"};

static void base64(const char *s, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        v |= i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned char)s[i + 2] : 0;
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

/* A raw message whose body (base64) is six words of the class's pool and four fillers. */
static void raw_mail(int spam, unsigned *seed, char *out, size_t cap)
{
    char body[256] = "", b64[400];

    for (int k = 0; k < 10; k++) {
        *seed = *seed * 1103515245u + 12345u;
        unsigned r = (*seed >> 16) % 6;
        const char *w = k < 6 ? (spam ? spam_words[r] : ham_words[r]) : filler[r];
        strcat(body, w);
        strcat(body, " ");
    }
    base64(body, b64);
    snprintf(out, cap,
             "From: a@example.com\nTo: b@example.com\nSubject: note\n"
             "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n",
             b64);
}

/* Writes a CSV "text,label" of n raw mails, alternately spam and ham, to a new temp file. */
static void write_csv(char *path, int n)
{
    int fd = mkstemp(path);
    FILE *f;
    unsigned seed = 7;
    char mail[1024];

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("text,label\n", f);
    for (int i = 0; i < n; i++) {
        raw_mail(i % 2, &seed, mail, sizeof mail);
        fprintf(f, "\"%s\",%s\n", mail, i % 2 ? "spam" : "ham");
    }
    fclose(f);
}

static float p_spam(const struct model *m, const char *text)
{
    const char *cells[1] = {text};
    float out[2];
    struct nn_err err;

    assert_int_equal(model_predict_cells(m, cells, out, &err), 0);
    return out[1];
}

static void test_train_on_raw_mail_without_init(void **state)
{
    char path[] = "/tmp/neurond-test-decoder-XXXXXX";
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;
    char mail[1024];
    unsigned seed = 99;

    (void)state;
    write_csv(path, 80);
    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "text_columns", "text", &err), 0);
    int rc = model_train_csv(path, &p, NULL, NULL, NULL, NULL, &m, &err);
    unlink(path);
    if (rc != 0) {
        fail_msg("training on raw mail failed: %s", err.msg);
    }
    /* the words were only in the base64 bodies: the model knows them, so it decoded them */
    assert_true(p_spam(m, "note\n\nprize lottery winner cash bonus claim") > 0.8f);
    assert_true(p_spam(m, "note\n\nmeeting agenda report project budget review") < 0.2f);
    /* and a raw message is decoded at prediction too */
    raw_mail(1, &seed, mail, sizeof mail);
    assert_true(p_spam(m, mail) > 0.8f);
    raw_mail(0, &seed, mail, sizeof mail);
    assert_true(p_spam(m, mail) < 0.2f);
    model_free(m);
    model_params_fini(&p);
}

/* Fits the features of a raw-mail CSV with the given decoder; returns the saved section. */
static struct tab_features *fit(const struct tab_text_decoder *dec, struct tab_buf *b)
{
    char path[] = "/tmp/neurond-test-decoder-XXXXXX";
    struct tab_csv *r = NULL;
    struct tab_schema *s = NULL;
    struct tab_schema_opts o = {NULL, -1, "text", NULL, NULL, NULL};
    struct tab_features *f = NULL;
    struct nn_dataset ds;
    struct nn_err err;
    unsigned char tr[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    FILE *in;

    write_csv(path, 8);
    in = fopen(path, "rb");
    unlink(path);
    assert_non_null(in);
    memset(&ds, 0, sizeof ds);
    assert_int_equal(tab_csv_open(in, NULL, &r, &err), 0);
    assert_int_equal(tab_schema_infer(r, &o, &s, &err), 0);
    assert_int_equal(tab_features_fit(r, s, tr, dec, &f, &ds, &err), 0);
    tab_buf_init(b, 1 << 20);
    assert_int_equal(tab_features_save(f, b), 0);
    nn_dataset_free(&ds);
    tab_schema_free(s);
    tab_csv_close(r);
    fclose(in);
    return f;
}

static const struct tab_text_decoder *find_none(const char *name)
{
    (void)name;
    return NULL;
}

static void test_decoder_stored(void **state)
{
    struct tab_buf b;
    struct tab_rd rd;
    struct tab_features *f, *g = NULL;
    struct nn_err err;
    float dense[16];
    int32_t ind[256];
    float val[256];
    size_t nnz_raw, nnz_dec;
    char mail[1024];
    unsigned seed = 5;
    const char *cells[1];

    (void)state;
    /* with "mail": a version-3 section names it (versions 1 and 2 implied it) */
    f = fit(model_text_decoder_default(), &b);
    assert_int_equal(b.data[4], 3);
    tab_rd_init(&rd, b.data, b.len);
    assert_int_equal(tab_features_load(&rd, model_text_decoder_find, &g, &err), 0);
    assert_ptr_equal(g->inputs[0].decoder, model_text_decoder_default());
    tab_features_free(g);
    /* a loader that knows no "mail" refuses it rather than reading mail as it is */
    tab_rd_init(&rd, b.data, b.len);
    assert_int_equal(tab_features_load(&rd, find_none, &g, &err), NN_EFORMAT);
    assert_null(g);
    raw_mail(1, &seed, mail, sizeof mail);
    cells[0] = mail;
    assert_int_equal(tab_features_encode(f, cells, dense, ind, val, 256, &nnz_dec, &err), 0);
    tab_features_free(f);
    tab_buf_fini(&b);

    /* without a decoder: version 3 naming none; the raw text is tokenised as it is */
    f = fit(NULL, &b);
    assert_int_equal(b.data[4], 3);
    tab_rd_init(&rd, b.data, b.len);
    assert_int_equal(tab_features_load(&rd, find_none, &g, &err), 0);
    assert_null(g->inputs[0].decoder);
    assert_int_equal(tab_features_encode(g, cells, dense, ind, val, 256, &nnz_raw, &err), 0);
    assert_true(nnz_raw != nnz_dec); /* headers and base64 give other tokens than the words */
    tab_features_free(g);
    tab_features_free(f);
    tab_buf_fini(&b);
}

static void test_decoder_json(void **state)
{
    static const char doc[] =
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"text\", \"type\": \"text\"%s}],"
        " \"label\": {\"name\": \"label\", \"classes\": [\"ham\", \"spam\"]}}";
    char text[512];
    struct tab_features *f = NULL;
    struct nn_err err;
    cJSON *j, *o;

    (void)state;
    snprintf(text, sizeof text, doc, ", \"decoder\": \"rot13\"");
    j = cJSON_Parse(text);
    assert_int_equal(model_features_from_json(j, &f, &err), NN_EFORMAT);
    assert_string_equal(err.field, "inputs[0].decoder");
    cJSON_Delete(j);
    /* absent: the default decoder (hand-written models always decoded raw mail) */
    snprintf(text, sizeof text, doc, "");
    j = cJSON_Parse(text);
    assert_int_equal(model_features_from_json(j, &f, &err), 0);
    assert_ptr_equal(f->inputs[0].decoder, model_text_decoder_default());
    tab_features_free(f);
    cJSON_Delete(j);
    /* null: none, and it is exported as null */
    snprintf(text, sizeof text, doc, ", \"decoder\": null");
    j = cJSON_Parse(text);
    assert_int_equal(model_features_from_json(j, &f, &err), 0);
    assert_null(f->inputs[0].decoder);
    o = cJSON_CreateObject();
    assert_int_equal(model_features_to_json(f, o), 0);
    const cJSON *in0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "inputs"), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(in0, "decoder")));
    cJSON_Delete(o);
    tab_features_free(f);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_on_raw_mail_without_init),
        cmocka_unit_test(test_decoder_stored),
        cmocka_unit_test(test_decoder_json),
    };
    /* deliberately no mail_global_init(): the decoder sets GMime up itself */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
