/*
 * api_explain: the one reading of the `explain` option wherever a request may carry it —
 * "explain" in the JSON bodies of /predict, /models/<name>/predict and /spam-score,
 * "parameters": {"explain": ...} of a KServe V2 infer request, and ?explain= on the CSV and
 * raw-mail forms. A bad value is answered 400 naming the field (or query parameter) here, so
 * every entry point refuses the same values with the same words.
 * Does not: explain anything (model/explain.c does).
 * Thread-safety: no state; any number of threads.
 */
#ifndef NEUROND_SERVER_API_EXPLAIN_H
#define NEUROND_SERVER_API_EXPLAIN_H

#include <cJSON.h>

#include "http.h"

#define SRV_EXPLAIN_TOP     10   /* words per text input unless "top" says otherwise */
#define SRV_EXPLAIN_TOP_MAX 1000 /* the largest "top" */

/**
 * Reads a JSON `explain` value: absent, null or false (none), true, or {"top": n} (n words
 * per text input, 1..SRV_EXPLAIN_TOP_MAX).
 * @param ej    [in] the value (NULL: absent).
 * @param field [in] its name in the error's details.field ("explain", "parameters.explain");
 *              "<field>.top" names a bad top.
 * @param top   [out] 0 (no explanation) or the words per text input.
 * @param rc    [out] set only on failure: what the handler returns.
 * @return 0, or -1 after replying 400.
 */
int srv_explain_json(struct srv_req *r, const cJSON *ej, const char *field, int *top, int *rc);

/**
 * Reads ?explain= of the query: absent, 0 or false (none); 1 or true (SRV_EXPLAIN_TOP words);
 * anything else is 400 with details.parameter "explain".
 * @param top [out] as for srv_explain_json. @param rc [out] set only on failure.
 * @return 0, or -1 after replying 400.
 */
int srv_explain_query(struct srv_req *r, int *top, int *rc);

#endif
