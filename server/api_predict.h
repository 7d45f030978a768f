/*
 * api_predict: POST /predict and POST /models/<name>/predict — JSON instances (objects by
 * input name or arrays in input order, up to --max-instances) to labels and probabilities,
 * or a CSV body to a CSV reply (the input columns, `prediction`, one `p_<class>` per class).
 * The model comes from the registry by reference: no store access and no global lock on
 * this path; a new version or pin is picked up by the next request.
 * One bad instance fails the request: 422 with details.index and details.field.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_PREDICT_H
#define NEUROND_SERVER_API_PREDICT_H

#include "http.h"

/** POST /predict and POST /models/<name>/predict */
int srv_api_predict_post(struct srv_req *r);

#endif
