/*
 * onnx: a model to and from ONNX, the protobuf graph format PyTorch, scikit-learn (skl2onnx)
 * and ONNX Runtime share. The protobuf is read and written by protobuf-c over the onnx.proto
 * Debian ships (libonnx-dev), compiled at build time; these calls only map between its
 * messages and struct model.
 *
 * Export writes the whole pipeline as one graph (docs/file-format.md, "ONNX"): one input per
 * column, imputation, missing indicators, scaling, one-hot, the network and the decision rule.
 * Import accepts the feed-forward networks torch.onnx.export and skl2onnx write and refuses
 * everything else by node and op. Does not: run a graph, or export text inputs (refused).
 * Thread-safety: both calls only read their inputs; any number may run at once.
 */
#ifndef NEUROND_MODEL_ONNX_H
#define NEUROND_MODEL_ONNX_H

#include <stddef.h>

#include "model/model.h"
#include "nn/err.h"

/* The versions export writes and import accepts up to. */
#define MODEL_ONNX_IR_VERSION 8
#define MODEL_ONNX_OPSET      15 /* ai.onnx */
#define MODEL_ONNX_ML_OPSET   2  /* ai.onnx.ml (LabelEncoder 2) */

/* Bounds on what import reads: checked before anything is built from a count. */
#define MODEL_ONNX_MAX_NODES 256

/**
 * Writes m as an ONNX model (ModelProto bytes).
 * @return 0; NN_EINVAL when the model has a text input (err->field names the column; no
 *         standard ONNX op hashes text the way the pipeline does, docs/decisions.md) or an
 *         input named as a graph output; NN_ENOMEM.
 * Ownership: *buf is new; caller frees with nn_free. NULL on failure.
 */
int model_onnx_export(const struct model *m, unsigned char **buf, size_t *len, struct nn_err *err);

/* What the request adds to an imported graph; every field may be NULL / 0. */
struct model_onnx_opts {
    const char *inputs;  /* comma-separated input names (else the graph's, see onnx_import.c) */
    const char *classes; /* comma-separated class names (else ZipMap / "labels" metadata) */
    const char *label;   /* the label's name (default "label") */
    const char *task;    /* "classification" or "regression": how to read a last linear layer */
    size_t max_params;   /* weights and biases at most (0: no bound) */
    size_t max_inputs;   /* network inputs at most (0: no bound) */
};

/**
 * Reads an ONNX feed-forward network (Gemm, MatMul+Add, Relu, LeakyRelu, Sigmoid, Tanh,
 * Softmax, Identity, Flatten; Sub/Div or Scaler as input scaling; a classifier's output tail:
 * ArgMax, ArrayFeatureExtractor, ZipMap, Cast, ...) into a model served like a trained one.
 * @return 0; NN_EFORMAT for bytes that are not a ModelProto (a protobuf error); NN_EINVAL for
 *         a graph outside the subset (err->field = the node's name, the message names its op)
 *         or a bad option (err->field = the option); NN_ERANGE past a limit; NN_ENOMEM.
 * Ownership: *out is a new model (model_free); NULL on failure.
 */
int model_onnx_import(const unsigned char *buf, size_t len, const struct model_onnx_opts *opts,
                      struct model **out, struct nn_err *err);

#endif
