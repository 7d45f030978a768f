/*
 * cmd_onnx: `neurond export --format onnx MODEL.nrd > MODEL.onnx` and `neurond import
 * MODEL.onnx -o MODEL.nrd [--inputs a,b --classes x,y --label NAME --task T]` (model/onnx.h).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model/onnx.h"
#include "nn/alloc.h"

#define MAX_IMPORT_ONNX ((size_t)1 << 30)

/* "--name value" or "--name=value": the value when argv[*i] is that option, else NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) {
        return NULL;
    }
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] == '\0' && *i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

int cli_onnx_format(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = opt_value(argc, argv, &i, "--format");
        if (v != NULL) {
            return strcmp(v, "onnx") == 0 ? 1 : strcmp(v, "json") == 0 ? 0 : -1;
        }
    }
    return 0;
}

int cli_export_onnx(int argc, char **argv)
{
    const char *path = NULL;
    struct model *m = NULL;
    struct nn_err err;
    unsigned char *buf = NULL;
    size_t len = 0;

    for (int i = 1; i < argc; i++) {
        if (opt_value(argc, argv, &i, "--format") != NULL) {
            continue;
        }
        if (path != NULL || argv[i][0] == '-') {
            path = NULL;
            break;
        }
        path = argv[i];
    }
    if (path == NULL) {
        fputs("usage: neurond export --format onnx MODEL.nrd > MODEL.onnx\n", stderr);
        return CLI_USAGE;
    }
    if (cli_load_model(path, &m, &err) != 0) {
        return CLI_ERR;
    }
    int rc = model_onnx_export(m, &buf, &len, &err);
    model_free(m);
    if (rc != 0) {
        return cli_fail(&err, path);
    }
    rc = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
    nn_free(buf);
    if (rc != 0) {
        nn_err_set(&err, NN_EIO, "cannot write the ONNX model to standard output");
        return cli_fail(&err, NULL);
    }
    return CLI_OK;
}

int cli_import_onnx(int argc, char **argv)
{
    struct model_onnx_opts o = {0};
    const char *in = NULL, *out = NULL, *v;
    struct model *m = NULL;
    struct nn_err err;
    char *data = NULL;
    size_t len = 0;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if ((v = opt_value(argc, argv, &i, "--inputs")) != NULL) {
            o.inputs = v;
        } else if ((v = opt_value(argc, argv, &i, "--classes")) != NULL) {
            o.classes = v;
        } else if ((v = opt_value(argc, argv, &i, "--label")) != NULL) {
            o.label = v;
        } else if ((v = opt_value(argc, argv, &i, "--task")) != NULL) {
            o.task = v;
        } else if (opt_value(argc, argv, &i, "--format") != NULL) {
            continue;
        } else if (in == NULL && argv[i][0] != '-') {
            in = argv[i];
        } else {
            in = NULL;
            break;
        }
    }
    if (in == NULL || out == NULL) {
        fputs("usage: neurond import MODEL.onnx -o MODEL.nrd [--inputs a,b,... --classes x,y,... "
              "--label NAME --task classification|regression]\n",
              stderr);
        return CLI_USAGE;
    }
    nn_err_clear(&err);
    if (cli_read_file(in, MAX_IMPORT_ONNX, &data, &len, &err) != 0) {
        return cli_fail(&err, in);
    }
    rc = model_onnx_import((const unsigned char *)data, len, &o, &m, &err);
    nn_free(data);
    if (rc == 0) {
        rc = cli_save_model(m, out, &err);
    }
    model_free(m);
    return rc != 0 ? cli_fail(&err, in) : CLI_OK;
}
