/*
 * api_feedback: learning from feedback (issue 21) — the labelled instances users send back
 * for a model (POST/GET/DELETE /models/<name>/feedback; /spam-score/learn goes through
 * srv_api_feedback_add), stored once per content hash; retraining (POST
 * /models/<name>/retrain, and by itself after every --retrain-after new rows): a warm-start
 * job from the serving version on the feedback plus a replay of that version's kept training
 * rows; and what its runner asks of this module: the champion/challenger gate on a holdout
 * neither model trained on, and the rows kept with every trained version.
 *
 * The holdout share of the feedback is fixed by content hash (HOLDOUT_SIXTEENTHS of 16 hex
 * values of its first digit): a row is either always trained on or never.
 * Thread-safety: handlers run on MHD threads, the gate and the kept rows on workers; all state
 * is in the store.
 */
#ifndef NEUROND_SERVER_API_FEEDBACK_H
#define NEUROND_SERVER_API_FEEDBACK_H

#include <cJSON.h>

#include "http.h"
#include "model/model.h"

struct srv_model;

/* Training rows kept with each trained version (a seeded reservoir), and validation rows. */
#define SRV_FEEDBACK_KEEP_ROWS 20000

/**
 * The content hash of a feedback row: the hex SHA-256 of its canonical instance's text
 * (model_instance_canonical, printed unformatted). @return 0 or NN_ENOMEM.
 */
int srv_feedback_hash(const cJSON *canonical, char out[65]);

/** Whether the feedback row of this hash is in the share held out for the gate (1) or not. */
int srv_feedback_holdout(const char *hash);

/** POST /models/<name>/feedback: {"instances": [...], "labels": [...]} or a CSV. */
int srv_api_feedback_post(struct srv_req *r);
/** GET /models/<name>/feedback: {"model", "count", "feedback": [...]}; ?limit=, ?after=. */
int srv_api_feedback_list(struct srv_req *r);
/** DELETE /models/<name>/feedback: every row, or ?hash= one; 204. */
int srv_api_feedback_delete(struct srv_req *r);
/** POST /models/<name>/retrain: 202 with the job. */
int srv_api_feedback_retrain(struct srv_req *r);

/**
 * Stores labelled instances for the model sm and replies (200: how many were stored and
 * updated, the model's feedback count; 400/422 naming the instance or label at fault: nothing
 * stored). Each instance must fit the model (as for prediction); each label must be one of
 * its classes (regression: a number). May queue a retraining (--retrain-after).
 * @param instances, labels [in] arrays of the same length (borrowed).
 * @return what the reply returned.
 */
int srv_api_feedback_add(struct srv_req *r, const struct srv_model *sm, const cJSON *instances,
                         const cJSON *labels);

/**
 * The gate of a retraining job: the holdout is the model's feedback of the holdout share plus
 * the validation rows kept with the champion's version; the challenger is promoted when
 * model_gate says so. @param verdict [out] model_gate's object, plus "champion_version".
 * @return 0 or an error (no holdout rows at all: the challenger is promoted, said so in the
 *         verdict).
 */
int srv_feedback_gate(struct srv_app *app, const struct srv_model *champion,
                      const struct model *challenger, const struct model_limits *lim,
                      cJSON **verdict, struct nn_err *err);

/**
 * Keeps with a new version the rows a retraining replays and a gate holds out: from the CSV
 * it trained on (path), split as its training split it (p's seed and validation_split), up to
 * SRV_FEEDBACK_KEEP_ROWS of each. Failures are logged, not returned (the version stands).
 */
void srv_feedback_keep_rows(struct srv_app *app, const char *model, int version,
                            const struct model *m, const char *path, const struct model_params *p,
                            const struct model_limits *lim);

/**
 * Keeps with a retrained version the rows kept with the version it started from (replay and
 * holdout, as they are: feedback is not mixed into them, so that the gate's validation rows
 * stay rows no retraining trains on). Failures are logged, not returned.
 */
void srv_feedback_carry_rows(struct srv_app *app, const char *model, int from, int to);

#endif
