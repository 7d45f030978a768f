/*
 * json_write: JSON text written straight into a tab_buf, for replies built on the hot path
 * (POST /predict) where a cJSON tree and its print pass cost more than the prediction.
 * The bytes are those cJSON_PrintUnformatted gives for the same values, so both paths answer
 * alike. Thread-safety: one buffer per thread.
 */
#ifndef NEUROND_SERVER_JSON_WRITE_H
#define NEUROND_SERVER_JSON_WRITE_H

#include <cJSON.h>

#include "tab/buf.h"

/** Appends the literal text s (no escaping). Failures are sticky in b->failed. */
void srv_json_raw(struct tab_buf *b, const char *s);
/** Appends s as a JSON string, escaped as cJSON escapes (\" \\ \b \f \n \r \t, \u00XX). */
void srv_json_str(struct tab_buf *b, const char *s);
/** Appends an integer. */
void srv_json_int(struct tab_buf *b, long v);
/**
 * Appends a float at float precision (7 significant digits, so 0.98f reads 0.98), spelled as
 * cJSON prints the double nearest that decimal (%1.15g); NaN and infinities as null.
 */
void srv_json_float(struct tab_buf *b, float v);
/** Appends "key":v, a member of an object, with a comma before it unless it is the first. */
void srv_json_member_float(struct tab_buf *b, int first, const char *key, float v);

/**
 * Appends a cJSON tree as cJSON_PrintUnformatted would, but with every number at float
 * precision through srv_json_float (printing doubles the cJSON way, %1.15g checked by a
 * sscanf round trip, costs more than explaining a row). Depth is the tree's: call it on
 * trees the daemon built, not on request bodies.
 */
void srv_json_tree(struct tab_buf *b, const cJSON *j);

#endif
