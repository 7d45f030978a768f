/*
 * json_check: what cJSON lets through and the API must not — checked on the raw text of a
 * JSON request body before it is parsed.
 *
 * cJSON accepts a raw control character inside a string (RFC 8259 forbids it) and decodes
 * the escape \u0000 into a NUL byte, which then cuts the C string it lands in: the model
 * name "iris\u0000x" would be read as "iris". One pass over the bytes refuses both and names
 * the culprit by its path in the document ("instances[0].species"), without parsing and
 * without recursion. It does not check the grammar otherwise: cJSON does that next.
 * Thread-safety: pure; call from any thread.
 */
#ifndef NEUROND_SERVER_JSON_CHECK_H
#define NEUROND_SERVER_JSON_CHECK_H

#include <stddef.h>

#include "nn/err.h"

/**
 * Checks the strings and the white space of a JSON text.
 * @param text, len [in] the body (need not be NUL-terminated; may hold NUL bytes).
 * @param err [out] on failure: col = byte offset of the fault (from 1), field = the path of
 *            the string at fault ("model", "instances[2].species", "" for the document).
 * @return 0; NN_EFORMAT for a raw control character (below U+0020) inside a string, or one
 *         other than tab, LF and CR outside strings (malformed JSON); NN_EINVAL for a \u0000
 *         escape in a string or a key.
 */
int srv_json_check_text(const char *text, size_t len, struct nn_err *err);

#endif
