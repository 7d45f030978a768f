/*
 * fuzz_model_json: libFuzzer target for the JSON model import (API.md's export / hand-written
 * models): parse, import, and when it imports, predict one all-missing instance and export
 * again. Never a crash, a leak or an unbounded allocation.
 */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "nn/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model *m = NULL;
    cJSON *doc, *inst, *out;
    float prob[1024];

    doc = cJSON_ParseWithLength((const char *)data, size);
    if (doc == NULL) {
        return 0;
    }
    if (model_import(doc, &m, NULL) == 0) {
        if (model_n_classes(m) <= 1024) {
            inst = cJSON_CreateObject();
            model_predict_json(m, inst, prob, NULL);
            cJSON_Delete(inst);
        }
        out = model_export(m);
        cJSON_Delete(out);
        model_free(m);
    }
    cJSON_Delete(doc);
    return 0;
}
