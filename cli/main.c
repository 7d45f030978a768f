/*
 * main: the `neurond` binary — one program, subcommands for each use: train / predict /
 * eval / inspect / export / import / split work on files, `serve` runs the daemon.
 * The version is the VERSION file's, given by the Makefile as NEUROND_VERSION, with the git
 * revision built from (NEUROND_GIT_REV, empty outside a checkout).
 */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#if !defined(NEUROND_VERSION) || !defined(NEUROND_GIT_REV)
#error "NEUROND_VERSION and NEUROND_GIT_REV come from the Makefile (the VERSION file, git)"
#endif

static const char usage[] =
    "usage: neurond <command> [options]\n"
    "\n"
    "commands:\n"
    "  train DATA.csv -o MODEL.nrd [--label COL --hidden 64,32 --epochs N ...]\n"
    "                          train a model (every training parameter of the API as --name)\n"
    "  learn MODEL.nrd FEEDBACK.csv -o NEW.nrd [--replay TRAIN.csv --holdout VALID.csv]\n"
    "                          retrain from feedback: warm start, then the champion/challenger\n"
    "                          gate (as POST /models/<name>/retrain)\n"
    "  predict MODEL.nrd INPUT.csv   write INPUT with prediction and p_<class> columns (CSV)\n"
    "  predict MODEL.nrd INPUT.csv --explain   also attr_<input> columns: what moved each\n"
    "                          prediction (integrated gradients, as /predict's explain)\n"
    "  eval MODEL.nrd TEST.csv [--json]   accuracy, log loss, AUC, confusion / RMSE, MAE\n"
    "  inspect MODEL.nrd [--json]   the model card: task, network, metrics and a table of\n"
    "                          every CSV column (type, missing, distinct, reason)\n"
    "  export MODEL.nrd        print the model as JSON (pipeline and every weight)\n"
    "  export --format onnx MODEL.nrd > MODEL.onnx   the whole pipeline as one ONNX graph\n"
    "  import MODEL.json -o MODEL.nrd   make a model file from export or hand-written JSON\n"
    "  import MODEL.onnx -o MODEL.nrd [--inputs a,b --classes x,y]   from an ONNX network\n"
    "  split DATA.csv TRAIN.csv TEST.csv [--test 0.2 --seed 42 --label COL]\n"
    "                          stratified train/test split of a CSV\n"
    "  serve [--port 8080 ...]\n"
    "                          run the HTTP daemon (neurond serve --help)\n"
    "  health [--url URL]      exit 0 when the daemon answers /healthz (Docker HEALTHCHECK)\n"
    "  params [--json]         list the training parameters: name, default, range, meaning\n"
    "  version                 print the version (also --version)\n"
    "  help                    print this text (also --help; neurond COMMAND --help for one)\n"
    "\n"
    "exit status: 0 success, 1 error (one line on stderr), 2 bad usage\n";

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
};

int srv_main(int argc, char **argv);

static int serve(int argc, char **argv)
{
    return srv_main(argc, argv);
}

/* `neurond --version`: "neurond 0.2.0" and the git revision when built from a checkout. */
static int version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (NEUROND_GIT_REV[0] != '\0') {
        printf("neurond %s (git %s)\n", NEUROND_VERSION, NEUROND_GIT_REV);
    } else {
        printf("neurond %s\n", NEUROND_VERSION);
    }
    return CLI_OK;
}

static int help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(usage, stdout);
    return CLI_OK;
}

static const struct command commands[] = {
    {"train", cli_train},   {"learn", cli_learn},     {"predict", cli_predict},
    {"eval", cli_eval},     {"inspect", cli_inspect}, {"export", cli_export},
    {"import", cli_import}, {"split", cli_split},     {"serve", serve},
    {"health", cli_health}, {"params", cli_params},   {"version", version},
    {"help", help},         {"--version", version},   {"--help", help},
    {"-h", help},
};

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    /* Training must be bit-for-bit reproducible and the daemon runs one job per worker:
       the products run single-threaded. */
    openblas_set_num_threads(1);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "neurond: unknown command '%s' (neurond --help lists them)\n", argv[1]);
    return CLI_USAGE;
}
