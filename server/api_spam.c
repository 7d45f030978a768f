/*
 * api_spam: the spam scorer of API.md over the model registry. One registry reference per
 * request; each message becomes the text cell of the model's first text input (other inputs
 * missing) and goes through model_predict_cells, so the JSON, the subject/body and the raw
 * e-mail forms share one path with training.
 */
#include "api_spam.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_explain.h"
#include "api_feedback.h"
#include "api_models.h"
#include "metrics.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "registry.h"

/* Fetches the scoring model, or replies 404 (with how to train one) / 422 and returns NULL. */
static struct srv_model *spam_model(struct srv_req *r, int *rc)
{
    const char *name = srv_http_query(r, "model");
    struct srv_model *sm = NULL;
    struct nn_err err;
    int rc0;

    if (name == NULL || name[0] == '\0') {
        name = "spam";
    }
    nn_err_clear(&err);
    rc0 = srv_api_model_name_ok(name) ? srv_registry_get(r->app->reg, name, 0, &sm, &err)
                                      : NN_ENOTFOUND;
    if (rc0 == NN_ENOTFOUND) {
        cJSON *d = cJSON_CreateObject();

        if (d != NULL) {
            cJSON_AddStringToObject(d, "model", name);
        }
        *rc = srv_http_reply_error(
            r, 404, d,
            "no model '%.64s' to score with: train one with `curl -F file=@mail.csv -F "
            "model=%.64s http://<host>/train` (a CSV with a text column and a spam/ham label)",
            name, name);
        return NULL;
    }
    if (rc0 != 0) {
        *rc = srv_http_reply_nn(r, rc0, &err, 400, NULL);
        return NULL;
    }
    if (model_positive_class(sm->model) < 0 || model_text_input(sm->model) < 0) {
        *rc = srv_http_reply_error(r, 422, NULL,
                                   "model '%s' is not a binary classifier with a text input, "
                                   "so it cannot score messages",
                                   sm->name);
        srv_registry_release(sm);
        return NULL;
    }
    return sm;
}

/*
 * The text of one JSON message: "text", or "subject" + blank line + "body" (the layout of a
 * decoded message in the training files). Sets *buf when it builds a new string (nn_free).
 * @return the text, or NULL with *why set.
 */
static const char *message_text(const cJSON *msg, char **buf, const char **why)
{
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(msg, "text");
    const cJSON *subject = cJSON_GetObjectItemCaseSensitive(msg, "subject");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(msg, "body");
    const char *s, *b;
    size_t ls, lb;

    *buf = NULL;
    if (!cJSON_IsObject(msg)) {
        *why = "a message must be an object: {\"text\": ...} or {\"subject\": ..., \"body\": ...}";
        return NULL;
    }
    if (cJSON_IsString(text)) {
        return text->valuestring;
    }
    if ((subject != NULL && !cJSON_IsString(subject)) || (body != NULL && !cJSON_IsString(body)) ||
        (subject == NULL && body == NULL)) {
        *why = "a message needs \"text\", or \"subject\" and/or \"body\", as strings";
        return NULL;
    }
    s = subject != NULL ? subject->valuestring : "";
    b = body != NULL ? body->valuestring : "";
    ls = strlen(s);
    lb = strlen(b);
    *buf = nn_malloc(ls + lb + 3);
    if (*buf == NULL) {
        *why = "out of memory";
        return NULL;
    }
    memcpy(*buf, s, ls);
    memcpy(*buf + ls, "\n\n", 2);
    memcpy(*buf + ls + 2, b, lb + 1);
    return *buf;
}

/*
 * The explanation of a score for the reply: model_expl_to_json's object (the positive class's
 * logit: a positive value pushed the score up) with the text input's words and shape features
 * lifted out of their per-input maps ("words": [...], "shape": {...}).
 * Takes ownership of e. @return e, or NULL when out of memory.
 */
static cJSON *spam_explanation(const struct model *m, cJSON *e)
{
    const char *name = model_input_name(m, model_text_input(m));
    const char *keys[2] = {"words", "shape"};

    for (int i = 0; e != NULL && i < 2; i++) {
        cJSON *map = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
        cJSON *v = map != NULL ? cJSON_DetachItemFromObjectCaseSensitive(map, name) : NULL;

        if (v == NULL) {
            cJSON_Delete(e);
            return NULL;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(e, keys[i], v);
    }
    return e;
}

/* Scores one text; fills the result object (and its "explanation" when top > 0: that many
 * words). @return 0 or an nn error in err. */
static int score(const struct srv_model *sm, const char *text, int top, float *out, cJSON *res,
                 struct nn_err *err)
{
    struct model_expl *ex = NULL;
    cJSON *e = NULL;
    const struct model *m = sm->model;
    int n = model_n_inputs(m), ti = model_text_input(m), pos = model_positive_class(m);
    const char *cells[64];
    const char **cv = cells;
    const char *src;
    double thr, p;
    int rc, i;

    if (n > 64) {
        cv = nn_calloc((size_t)n, sizeof(char *));
        if (cv == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        cv[i] = i == ti ? text : NULL;
    }
    if (top > 0) {
        rc = model_explain_cells(m, cv, pos, out, &ex, err);
        if (rc == 0) {
            e = spam_explanation(m, model_expl_to_json(m, ex, top));
            model_expl_free(ex);
            rc = e == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory") : 0;
        }
    } else {
        rc = model_predict_cells(m, cv, out, err);
    }
    if (cv != cells) {
        nn_free(cv);
    }
    if (rc != 0) {
        return rc;
    }
    p = (double)out[pos];
    thr = model_threshold(m, &src);
    cJSON_AddStringToObject(res, "model", sm->name);
    cJSON_AddNumberToObject(res, "version", sm->version);
    cJSON_AddNumberToObject(res, "score", (double)(float)p);
    cJSON_AddBoolToObject(res, "spam", model_decide(m, out) == pos);
    cJSON_AddNumberToObject(res, "threshold", thr);
    cJSON_AddStringToObject(res, "threshold_source", src);
    if (e != NULL) {
        cJSON_AddItemToObject(res, "explanation", e);
    }
    return 0;
}

/* The message of a /spam-score or /spam-score/learn request. */
struct message {
    cJSON *doc;       /* the parsed JSON body, or NULL (a raw e-mail) */
    char *buf;        /* the text when message_text built it, or NULL */
    const char *text; /* the message */
};

/* Frees what read_message kept. */
static void message_fini(struct message *msg)
{
    cJSON_Delete(msg->doc);
    nn_free(msg->buf);
}

/*
 * Reads the message of a request: a raw e-mail body, or the JSON body's message.
 * @return 0, or 1 when a 400 was sent (*rc); msg then holds nothing to free.
 */
static int read_message(struct srv_req *r, struct message *msg, int *rc)
{
    const char *why = NULL;

    memset(msg, 0, sizeof(*msg));
    if (r->body_kind == SRV_BODY_MAIL) {
        msg->text = r->body != NULL ? r->body : "";
        if (r->body != NULL && strlen(r->body) != r->body_len) {
            *rc = srv_http_reply_error(r, 400, NULL,
                                       "the message holds NUL bytes; send it as base64 in MIME");
            return 1;
        }
        return 0;
    }
    msg->doc = srv_http_json_body(r);
    if (msg->doc == NULL) {
        *rc = 0; /* 400 sent */
        return 1;
    }
    msg->text = message_text(msg->doc, &msg->buf, &why);
    if (msg->text == NULL) {
        message_fini(msg);
        memset(msg, 0, sizeof(*msg));
        *rc = srv_http_reply_error(r, 400, NULL, "%s", why);
        return 1;
    }
    return 0;
}

int srv_api_spam_score(struct srv_req *r)
{
    struct srv_model *sm;
    struct nn_err err;
    struct message msg;
    cJSON *res = NULL;
    float out[2];
    int rc = 0, top = 0;

    if (srv_explain_query(r, &top, &rc) != 0) {
        return rc;
    }
    if (read_message(r, &msg, &rc) != 0) {
        return rc;
    }
    if (msg.doc != NULL) {
        const cJSON *ej = cJSON_GetObjectItemCaseSensitive(msg.doc, "explain");

        if (ej != NULL && srv_explain_json(r, ej, "explain", &top, &rc) != 0) {
            goto out;
        }
    }
    sm = spam_model(r, &rc);
    if (sm == NULL) {
        goto out;
    }
    res = cJSON_CreateObject();
    nn_err_clear(&err);
    if (res == NULL) {
        rc = NN_ENOMEM;
    } else if ((rc = score(sm, msg.text, top, out, res, &err)) != 0) {
        rc = srv_http_reply_nn(r, rc, &err, 422, NULL);
    } else {
        srv_metrics_predictions_model(r->app->metrics, sm->name, 1);
        rc = srv_http_reply_json(r, 200, res);
        res = NULL;
    }
    srv_registry_release(sm);
out:
    cJSON_Delete(res);
    message_fini(&msg);
    return rc;
}

int srv_api_spam_batch(struct srv_req *r)
{
    struct srv_model *sm = NULL;
    const cJSON *msgs, *it;
    struct nn_err err;
    cJSON *doc, *reply = NULL, *results;
    float out[2];
    long i = 0, n;
    int rc = 0, top = 0;

    if (srv_explain_query(r, &top, &rc) != 0) {
        return rc;
    }
    doc = srv_http_json_body(r);
    if (doc == NULL) {
        return 0;
    }
    const cJSON *ej = cJSON_GetObjectItemCaseSensitive(doc, "explain");
    if (ej != NULL && srv_explain_json(r, ej, "explain", &top, &rc) != 0) {
        goto out;
    }
    msgs = cJSON_GetObjectItemCaseSensitive(doc, "messages");
    if (!cJSON_IsArray(msgs)) {
        rc = srv_http_reply_field(r, 400, "messages", -1,
                                  "\"messages\" (an array of messages) is required");
        goto out;
    }
    n = (long)cJSON_GetArraySize(msgs);
    if (n > SRV_SPAM_BATCH_MAX) {
        cJSON *d = srv_http_details_str("field", "messages");

        if (d != NULL) {
            cJSON_AddNumberToObject(d, "limit", SRV_SPAM_BATCH_MAX);
        }
        rc = srv_http_reply_error(r, 413, d, "%ld messages: at most %d per request", n,
                                  SRV_SPAM_BATCH_MAX);
        goto out;
    }
    sm = spam_model(r, &rc);
    if (sm == NULL) {
        goto out;
    }
    reply = cJSON_CreateObject();
    results = cJSON_AddArrayToObject(reply, "results");
    if (reply == NULL || results == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    cJSON_ArrayForEach(it, msgs)
    {
        char *buf = NULL, field[48];
        const char *why = NULL, *text = message_text(it, &buf, &why);
        cJSON *res = cJSON_CreateObject();

        snprintf(field, sizeof(field), "messages[%ld]", i);
        nn_err_clear(&err);
        if (text == NULL || res == NULL || score(sm, text, top, out, res, &err) != 0) {
            char msg[sizeof(err.msg) + 32];

            snprintf(msg, sizeof(msg), "message %ld: %s", i, text == NULL ? why : err.msg);
            rc = srv_http_reply_field(r, text == NULL ? 400 : 422, field, i, msg);
            cJSON_Delete(res);
            nn_free(buf);
            goto out;
        }
        nn_free(buf);
        cJSON_AddItemToArray(results, res);
        i++;
    }
    srv_metrics_predictions_model(r->app->metrics, sm->name, (unsigned long)n);
    rc = srv_http_reply_json(r, 200, reply);
    reply = NULL;
out:
    cJSON_Delete(reply); /* before the model: explanations borrow its input names */
    srv_registry_release(sm);
    cJSON_Delete(doc);
    return rc;
}

/* The feedback of one message: [text at the text input, null elsewhere] and its class. */
static int learn_one(struct srv_req *r, const struct srv_model *sm, const char *text,
                     const char *label)
{
    const struct model *m = sm->model;
    int pos = model_positive_class(m), ti = model_text_input(m);
    cJSON *inst = cJSON_CreateArray(), *insts = cJSON_CreateArray(), *labs = cJSON_CreateArray();
    int rc, ok = inst != NULL && insts != NULL && labs != NULL;

    for (int i = 0; ok && i < model_n_inputs(m); i++) {
        ok = cJSON_AddItemToArray(inst, i == ti ? cJSON_CreateString(text) : cJSON_CreateNull());
    }
    ok = ok && cJSON_AddItemToArray(insts, inst);
    if (ok) {
        inst = NULL;
        ok = cJSON_AddItemToArray(labs, cJSON_CreateString(model_class(
                                            m, strcasecmp(label, "spam") == 0 ? pos : 1 - pos)));
    }
    rc = ok ? srv_api_feedback_add(r, sm, insts, labs) : NN_ENOMEM;
    cJSON_Delete(inst);
    cJSON_Delete(insts);
    cJSON_Delete(labs);
    return rc;
}

int srv_api_spam_learn(struct srv_req *r)
{
    struct srv_model *sm = NULL;
    struct message msg;
    const char *label = srv_http_query(r, "label");
    int rc = 0;

    if (read_message(r, &msg, &rc) != 0) {
        return rc;
    }
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(msg.doc, "label");
    if (cJSON_IsString(l)) {
        label = l->valuestring;
    }
    if (label == NULL || (strcasecmp(label, "spam") != 0 && strcasecmp(label, "ham") != 0)) {
        rc = srv_http_reply_error(r, 400, srv_http_details_str("field", "label"),
                                  "\"label\" must be \"spam\" or \"ham\" (a raw e-mail: "
                                  "?label=spam)");
        goto out;
    }
    sm = spam_model(r, &rc);
    if (sm != NULL) {
        rc = learn_one(r, sm, msg.text, label);
    }
out:
    srv_registry_release(sm);
    message_fini(&msg);
    return rc;
}
