/*
 * fuzz_srv_predict_read: libFuzzer target for server/predict_read.c, the reader of the common
 * POST /predict body, checked against cJSON (the general path) as an oracle: whenever the
 * reader accepts a body, cJSON must parse it too, to an object whose "instances" holds the
 * same rows of the same numbers bit for bit, whose "model" (if any) is the same string and
 * whose "version" the same number; and the reader must never read past the body's end.
 * Any abort, crash, leak or sanitizer report is a bug.
 *   make build/fuzz/fuzz_srv_predict_read && build/fuzz/fuzz_srv_predict_read \
 *       tests/fuzz/corpus_srv_predict_read
 */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/predict_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_srv_predict_read: accepted body disagrees with cJSON: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any read past the end */
    char *body = malloc(size > 0 ? size : 1);
    struct srv_predict_doc d;

    if (body == NULL) {
        return 0;
    }
    memcpy(body, data, size);
    int ok = srv_predict_read(body, size, &d);
    if (ok) {
        cJSON *doc = cJSON_ParseWithLength(body, size);
        check(cJSON_IsObject(doc), "not an object");
        const cJSON *inst = cJSON_GetObjectItemCaseSensitive(doc, "instances");
        check(cJSON_IsArray(inst) && (size_t)cJSON_GetArraySize(inst) == d.rows, "rows");
        size_t i = 0;
        const cJSON *row, *v;
        cJSON_ArrayForEach(row, inst)
        {
            check(cJSON_IsArray(row) && (size_t)cJSON_GetArraySize(row) == d.width, "width");
            cJSON_ArrayForEach(v, row)
            {
                check(cJSON_IsNumber(v), "a value is not a number");
                check(memcmp(&v->valuedouble, &d.x[i], sizeof(double)) == 0, "a value differs");
                i++;
            }
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "model");
        check(m == NULL ? d.model[0] == '\0'
                        : cJSON_IsString(m) && strcmp(m->valuestring, d.model) == 0,
              "model");
        const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "version");
        check(ver == NULL ? !d.has_version
                          : d.has_version && cJSON_IsNumber(ver) && ver->valuedouble == d.version,
              "version");
        cJSON_Delete(doc);
    }
    srv_predict_doc_fini(&d);
    free(body);
    return 0;
}
