/*
 * cli: the `neurond` command line's shared pieces — subcommand entry points, option parsing
 * into model parameters, loading a model file, and printing one clear error line.
 * Exit status everywhere: 0 success, 1 a user error (one line on stderr), 2 bad usage.
 * Thread-safety: single-threaded program code.
 */
#ifndef NEUROND_CLI_CLI_H
#define NEUROND_CLI_CLI_H

#include <stdio.h>

#include "model/model.h"
#include "nn/err.h"

#define CLI_OK    0
#define CLI_ERR   1
#define CLI_USAGE 2

/** Subcommands; argv[0] is the subcommand name. Each returns an exit status. */
int cli_train(int argc, char **argv);
int cli_learn(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_import(int argc, char **argv);
int cli_split(int argc, char **argv);
int cli_health(int argc, char **argv);
int cli_params(int argc, char **argv);

/**
 * Writes the training parameters as options, one per entry ("  --epochs N   maximum epochs
 * (default: 100; an integer from 1 to 100000)"), from model/params.h's table.
 */
void cli_params_usage(FILE *out);

/** export/import in ONNX (cmd_onnx.c): `--format onnx`, or a .onnx file to import. */
int cli_export_onnx(int argc, char **argv);
int cli_import_onnx(int argc, char **argv);
/** 1 when argv holds `--format onnx`, 0 for none or `--format json`, -1 for another format. */
int cli_onnx_format(int argc, char **argv);

/**
 * Prints "neurond: <where>: <message>" for err, with line/column/field when set.
 * @param where [in] the file at fault, or NULL.
 * @return CLI_ERR.
 */
int cli_fail(const struct nn_err *err, const char *where);

/**
 * Reads a model file (binary blob) and loads it; err is cleared first, and on failure the
 * error is printed (cli_fail with path).
 * @return 0, or CLI_ERR after printing. Ownership: *out new; model_free.
 */
int cli_load_model(const char *path, struct model **out, struct nn_err *err);

/**
 * Writes a whole buffer to path atomically (temp file + rename).
 * @return 0 or NN_EIO in err.
 */
int cli_write_file(const char *path, const void *data, size_t len, struct nn_err *err);

/**
 * Saves m as a model file (binary blob) at path, atomically (cli_write_file).
 * @return 0 or an error in err.
 */
int cli_save_model(const struct model *m, const char *path, struct nn_err *err);

/**
 * Reads a whole file into a new NUL-terminated buffer (at most max bytes).
 * Ownership: *out new; nn_free.
 */
int cli_read_file(const char *path, size_t max, char **out, size_t *len, struct nn_err *err);

/**
 * Trains with `auto` (model/auto.h): candidate-folds on `workers` threads, a progress line
 * per candidate and the leaderboard table on stderr (unless quiet).
 * @return 0 or an error (err filled). Ownership: *out new; model_free.
 */
int cli_train_auto(const char *data, const struct model_params *p, const struct model_limits *lim,
                   int workers, int quiet, struct model **out, struct nn_err *err);

/**
 * Parses "--name value" / "--name=value" options that are training parameters (dashes
 * become underscores: --batch-size = batch_size) into p.
 * @param i [in,out] index of the option in argv; advanced past its value.
 * @return 0, CLI_USAGE for an unknown option or missing value (message printed), or CLI_ERR
 *         for a bad value (message printed).
 */
int cli_param_option(int argc, char **argv, int *i, struct model_params *p);

/** Parses a delimiter option value (",", ";", "tab" or "\t"); -1 when invalid. */
int cli_delimiter(const char *s);

#endif
