/*
 * fuzz_model_onnx: libFuzzer target for the ONNX import (model/onnx.h): protobuf-c's unpacking
 * of a ModelProto and the graph walk behind it, under the daemon's limits (2,000,000 weights,
 * 10,000 inputs); when a graph imports, predict one all-missing instance and export it back to
 * ONNX. Never a crash, a leak or an unbounded allocation.
 */
#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "model/onnx.h"
#include "nn/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_onnx_opts o = {0};
    struct model *m = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    float prob[1024];

    o.max_params = 2000000;
    o.max_inputs = 10000;
    if (model_onnx_import(data, size, &o, &m, NULL) != 0) {
        return 0;
    }
    if (model_n_classes(m) <= 1024) {
        cJSON *inst = cJSON_CreateObject();
        model_predict_json(m, inst, prob, NULL);
        cJSON_Delete(inst);
    }
    if (model_onnx_export(m, &buf, &len, NULL) == 0) {
        nn_free(buf);
    }
    model_free(m);
    return 0;
}
