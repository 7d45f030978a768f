/*
 * api_spam: POST /spam-score and POST /spam-score/batch — score messages with a binary text
 * model (`spam` unless ?model=). A message is {"text": ...}, {"subject": ..., "body": ...},
 * or a raw e-mail body (message/rfc822, text/plain); raw mail is decoded by the feature
 * pipeline (mail/: MIME, base64/QP, charsets, HTML to text), exactly as at training time.
 * The score is the probability of the positive class (model_positive_class), `spam` is
 * score >= the model's threshold, and the reply says where the threshold came from.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_SPAM_H
#define NEUROND_SERVER_API_SPAM_H

#include "http.h"

#define SRV_SPAM_BATCH_MAX 1000

/** POST /spam-score */
int srv_api_spam_score(struct srv_req *r);

/** POST /spam-score/batch */
int srv_api_spam_batch(struct srv_req *r);

/**
 * POST /spam-score/learn: a message in any form /spam-score reads, with "label": "spam" or
 * "ham" (a raw e-mail: ?label=), stored as feedback of the scoring model (the message as its
 * text input, the label as its positive class or the other one): srv_api_feedback_add.
 */
int srv_api_spam_learn(struct srv_req *r);

#endif
