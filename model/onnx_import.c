/* onnx_import: not written yet (the next commit); refuses every graph. */
#include "model/onnx.h"

int model_onnx_import(const unsigned char *buf, size_t len, const struct model_onnx_opts *opts,
                      struct model **out, struct nn_err *err)
{
    (void)buf;
    (void)len;
    (void)opts;
    *out = NULL;
    return nn_err_set(err, NN_EINVAL, "ONNX import is not implemented yet");
}
