/*
 * api_explain: the `explain` option of every entry point (see api_explain.h). One parser and
 * one set of messages, so a value refused at /predict is refused the same way at
 * /spam-score and KServe's infer.
 */
#include "api_explain.h"

#include <stdio.h>
#include <string.h>

int srv_explain_json(struct srv_req *r, const cJSON *ej, const char *field, int *top, int *rc)
{
    const cJSON *tj;
    char name[64];

    *top = 0;
    if (ej == NULL || cJSON_IsNull(ej) || cJSON_IsFalse(ej)) {
        return 0;
    }
    if (cJSON_IsTrue(ej)) {
        *top = SRV_EXPLAIN_TOP;
        return 0;
    }
    if (!cJSON_IsObject(ej)) {
        *rc = srv_http_reply_error(r, 400, srv_http_details_str("field", field),
                                   "\"%s\" must be true, false or an object {\"top\": n}", field);
        return -1;
    }
    tj = cJSON_GetObjectItemCaseSensitive(ej, "top");
    if (tj == NULL) {
        *top = SRV_EXPLAIN_TOP;
        return 0;
    }
    if (!cJSON_IsNumber(tj) || tj->valuedouble < 1 || tj->valuedouble > SRV_EXPLAIN_TOP_MAX ||
        tj->valuedouble != (double)(int)tj->valuedouble) {
        snprintf(name, sizeof(name), "%s.top", field);
        *rc = srv_http_reply_error(r, 400, srv_http_details_str("field", name),
                                   "\"%s\" must be an integer from 1 to %d", name,
                                   SRV_EXPLAIN_TOP_MAX);
        return -1;
    }
    *top = (int)tj->valuedouble;
    return 0;
}

int srv_explain_query(struct srv_req *r, int *top, int *rc)
{
    const char *q = srv_http_query(r, "explain");

    *top = 0;
    if (q == NULL || strcmp(q, "0") == 0 || strcmp(q, "false") == 0) {
        return 0;
    }
    if (strcmp(q, "1") == 0 || strcmp(q, "true") == 0) {
        *top = SRV_EXPLAIN_TOP;
        return 0;
    }
    *rc = srv_http_reply_error(r, 400, srv_http_details_str("parameter", "explain"),
                               "explain must be 1, true, 0 or false");
    return -1;
}
