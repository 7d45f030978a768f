/*
 * cmd_predict: the subcommands that read a model file — predict (CSV in, CSV out), eval
 * (metrics on a labelled CSV), export (JSON), import (JSON -> file); inspect is cmd_inspect.c.
 */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "nn/alloc.h"

#define MAX_IMPORT_JSON ((size_t)1 << 30)

/* Parses "MODEL FILE [--delimiter D] [--json] [--explain]" shared by predict and eval (json
 * and explain NULL where the command has no such option). */
static int parse_args(int argc, char **argv, const char **model, const char **file, char *delim,
                      int *json, int *explain)
{
    int i;

    *model = NULL;
    *file = NULL;
    *delim = ',';
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && json != NULL) {
            *json = 1;
        } else if (strcmp(argv[i], "--explain") == 0 && explain != NULL) {
            *explain = 1;
        } else if (strcmp(argv[i], "--delimiter") == 0 && i + 1 < argc) {
            int d = cli_delimiter(argv[++i]);

            if (d < 0) {
                fprintf(stderr, "neurond: --delimiter takes ',', ';' or tab\n");
                return CLI_USAGE;
            }
            *delim = (char)d;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "neurond: unknown option %s\n", argv[i]);
            return CLI_USAGE;
        } else if (*model == NULL) {
            *model = argv[i];
        } else if (*file == NULL) {
            *file = argv[i];
        } else {
            return CLI_USAGE;
        }
    }
    return *model != NULL && *file != NULL ? 0 : CLI_USAGE;
}

/* parse_args, then loads MODEL into *m. @return 0; CLI_USAGE after printing usage; CLI_ERR
 * after printing why the model does not load. */
static int model_and_file(int argc, char **argv, const char *usage, struct model **m,
                          const char **file, char *delim, int *json, int *explain,
                          struct nn_err *err)
{
    const char *model;

    if (parse_args(argc, argv, &model, file, delim, json, explain) != 0) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    return cli_load_model(model, m, err);
}

int cli_predict(int argc, char **argv)
{
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;
    const char *file;
    FILE *in;
    char delim;
    int explain = 0, rc;

    rc = model_and_file(argc, argv,
                        "usage: neurond predict MODEL.nrd INPUT.csv|- [--delimiter D] "
                        "[--explain]\n",
                        &m, &file, &delim, NULL, &explain, &err);
    if (rc != 0) {
        return rc;
    }
    model_limits_default(&lim);
    in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (in == NULL) {
        model_free(m);
        nn_err_set(&err, NN_EIO, "cannot open the input");
        return cli_fail(&err, file);
    }
    rc = model_predict_csv(m, in, stdout, delim, explain, &lim, &err);
    if (in != stdin) {
        fclose(in);
    }
    model_free(m);
    if (fflush(stdout) != 0 && rc == 0) {
        rc = nn_err_set(&err, NN_EIO, "cannot write the output");
    }
    return rc != 0 ? cli_fail(&err, file) : CLI_OK;
}

/* The human-readable form of an eval result. */
static void print_eval(const cJSON *r)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, r)
    {
        if (cJSON_IsNumber(it)) {
            printf("%-10s %.6g\n", it->string, it->valuedouble);
        }
    }
    it = cJSON_GetObjectItem(r, "confusion");
    if (it != NULL) {
        const cJSON *cls = cJSON_GetObjectItem(r, "classes");
        const cJSON *row, *c;
        int i = 0;

        printf("confusion (rows: true class, columns: predicted)\n");
        cJSON_ArrayForEach(row, it)
        {
            printf("  %-12s", cJSON_GetStringValue(cJSON_GetArrayItem(cls, i++)));
            cJSON_ArrayForEach(c, row)
            {
                printf(" %6.0f", c->valuedouble);
            }
            printf("\n");
        }
    }
}

int cli_eval(int argc, char **argv)
{
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;
    const char *file;
    cJSON *r = NULL;
    char delim;
    int json = 0, rc;

    rc = model_and_file(argc, argv,
                        "usage: neurond eval MODEL.nrd TEST.csv [--json] [--delimiter D]\n", &m,
                        &file, &delim, &json, NULL, &err);
    if (rc != 0) {
        return rc;
    }
    model_limits_default(&lim);
    if (model_eval_csv(m, file, delim, &lim, &r, &err) != 0) {
        model_free(m);
        return cli_fail(&err, file);
    }
    if (json) {
        char *text = cJSON_PrintUnformatted(r);

        printf("%s\n", text != NULL ? text : "{}");
        cJSON_free(text);
    } else {
        print_eval(r);
    }
    cJSON_Delete(r);
    model_free(m);
    return CLI_OK;
}

/* An unknown --format value: one line, exit 2. */
static int cli_fail_format(void)
{
    fputs("neurond: --format must be json or onnx\n", stderr);
    return CLI_USAGE;
}

/* export: load, build the JSON document, print it. */
static int print_model_json(int argc, char **argv, cJSON *(*make)(const struct model *))
{
    struct model *m = NULL;
    struct nn_err err;
    cJSON *doc;
    char *text;

    if (argc != 2) {
        fprintf(stderr, "usage: neurond %s MODEL.nrd\n", argv[0]);
        return CLI_USAGE;
    }
    if (cli_load_model(argv[1], &m, &err) != 0) {
        return CLI_ERR;
    }
    doc = make(m);
    text = doc != NULL ? cJSON_Print(doc) : NULL;
    model_free(m);
    cJSON_Delete(doc);
    if (text == NULL) {
        nn_err_set(&err, NN_ENOMEM, "out of memory");
        return cli_fail(&err, argv[1]);
    }
    printf("%s\n", text);
    cJSON_free(text);
    return CLI_OK;
}

int cli_export(int argc, char **argv)
{
    int onnx = cli_onnx_format(argc, argv);
    if (onnx != 0) {
        return onnx > 0 ? cli_export_onnx(argc, argv) : cli_fail_format();
    }
    return print_model_json(argc, argv, model_export);
}

int cli_import(int argc, char **argv)
{
    int onnx = cli_onnx_format(argc, argv);
    size_t n1 = argc > 1 ? strlen(argv[1]) : 0;
    if (onnx < 0) {
        return cli_fail_format();
    }
    if (onnx > 0 || (n1 > 5 && strcmp(argv[1] + n1 - 5, ".onnx") == 0)) {
        return cli_import_onnx(argc, argv);
    }
    struct model *m = NULL;
    struct nn_err err;
    const char *out = NULL, *in = NULL;
    char *text = NULL;
    size_t len;
    cJSON *doc;
    int i, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (in == NULL) {
            in = argv[i];
        } else {
            in = NULL;
            break;
        }
    }
    if (in == NULL || out == NULL) {
        fputs("usage: neurond import MODEL.json -o MODEL.nrd\n", stderr);
        return CLI_USAGE;
    }
    nn_err_clear(&err);
    if (cli_read_file(in, MAX_IMPORT_JSON, &text, &len, &err) != 0) {
        return cli_fail(&err, in);
    }
    doc = cJSON_ParseWithLength(text, len);
    nn_free(text);
    if (doc == NULL) {
        nn_err_set(&err, NN_EFORMAT, "not valid JSON");
        return cli_fail(&err, in);
    }
    rc = model_import(doc, &m, &err);
    cJSON_Delete(doc);
    if (rc == 0) {
        rc = cli_save_model(m, out, &err);
    }
    model_free(m);
    return rc != 0 ? cli_fail(&err, in) : CLI_OK;
}
