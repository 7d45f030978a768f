/*
 * cmd_train: `neurond train DATA.csv -o MODEL.nrd [params]` — trains with a progress bar on a
 * terminal (plain lines otherwise), writes the model file, prints the final metrics.
 */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nn/alloc.h"

struct progress {
    int tty;
    int quiet;
};

static int on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    const struct progress *pr = ud;
    const char *metric = st->regression ? "val_rmse" : "val_acc";

    if (pr->quiet) {
        return 0;
    }
    if (pr->tty) {
        int width = 24, done = st->epochs > 0 ? width * st->epoch / st->epochs : width, i;

        fputs("\r[", stderr);
        for (i = 0; i < width; i++) {
            fputc(i < done ? '#' : '.', stderr);
        }
        fprintf(stderr, "] epoch %d/%d  loss %.4f  val_loss %.4f  %s %.4f ", st->epoch, st->epochs,
                st->train_loss, st->val_loss, metric, st->val_metric);
    } else {
        fprintf(stderr, "epoch %d/%d loss %.6f val_loss %.6f %s %.6f seconds %.3f\n", st->epoch,
                st->epochs, st->train_loss, st->val_loss, metric, st->val_metric, st->seconds);
    }
    fflush(stderr);
    return 0;
}

static void train_usage(FILE *out)
{
    fputs("usage: neurond train DATA.csv -o MODEL.nrd [options]\n"
          "\n"
          "Trains a model on a CSV file (header row; the label is the last column unless\n"
          "--label), writes it to MODEL.nrd and prints its validation metrics as JSON.\n"
          "\n"
          "options:\n"
          "  -o, --output MODEL.nrd      the model file to write (required)\n"
          "  -q, --quiet                 no progress on stderr\n"
          "      --auto                  search the network by cross-validation (the auto\n"
          "                              parameter; see max_seconds, max_models, folds, metric)\n"
          "      --workers N             auto: threads for the candidates (default 1)\n"
          "  -h, --help                  this text\n"
          "\n"
          "training parameters (the fields of POST /train; --name=value works too):\n",
          out);
    cli_params_usage(out);
}

int cli_train(int argc, char **argv)
{
    struct model_params p;
    struct model_limits lim;
    struct model *m = NULL;
    struct progress pr;
    struct nn_err err;
    const char *data = NULL, *out = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    cJSON *metrics;
    char *text;
    int i, rc = CLI_OK, workers = 1;

    model_params_default(&p);
    model_limits_default(&lim);
    nn_err_clear(&err);
    memset(&pr, 0, sizeof(pr));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc) {
                train_usage(stderr);
                rc = CLI_USAGE;
                goto done;
            }
            out = argv[++i];
        } else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            pr.quiet = 1;
        } else if (strcmp(argv[i], "--auto") == 0 &&
                   (i + 1 >= argc || model_params_set(&p, "auto", argv[i + 1], NULL) != 0)) {
            /* bare --auto: true (--auto false, --auto=1 are the table's option) */
            model_params_set(&p, "auto", "true", NULL);
        } else if (strcmp(argv[i], "--auto") == 0) {
            i++; /* its value was read above */
        } else if (strcmp(argv[i], "--workers") == 0 || strncmp(argv[i], "--workers=", 10) == 0) {
            const char *v = argv[i][9] == '=' ? argv[i] + 10 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            long w = strtol(v, &end, 10);

            if (*v == '\0' || *end != '\0' || w < 1 || w > 64) {
                fprintf(stderr, "neurond: --workers takes an integer from 1 to 64\n");
                rc = CLI_USAGE;
                goto done;
            }
            workers = (int)w;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            train_usage(stdout);
            rc = CLI_OK;
            goto done;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            rc = cli_param_option(argc, argv, &i, &p);
            if (rc != 0) {
                goto done;
            }
        } else if (data == NULL) {
            data = argv[i];
        } else {
            train_usage(stderr);
            rc = CLI_USAGE;
            goto done;
        }
    }
    if (data == NULL || out == NULL) {
        train_usage(stderr);
        rc = CLI_USAGE;
        goto done;
    }
    pr.tty = isatty(2);
    if (p.base != NULL) {
        /* a warm start from the model file --base names (the data is checked first) */
        struct model *base = NULL;
        FILE *f = fopen(data, "r");

        if (f == NULL) {
            nn_err_set(&err, NN_EIO, "cannot open %s: %s", data, strerror(errno));
            rc = cli_fail(&err, data);
            goto done;
        }
        fclose(f);
        if (cli_load_model(p.base, &base, &err) != 0) {
            rc = cli_fail(&err, p.base);
            goto done;
        }
        rc = model_train_warm(data, base, &p, &lim, on_epoch, &pr, NULL, &m, &err);
        model_free(base);
    } else {
        rc = p.auto_search ? cli_train_auto(data, &p, &lim, workers, pr.quiet, &m, &err)
                           : model_train_csv(data, &p, &lim, on_epoch, &pr, NULL, &m, &err);
    }
    if (rc != 0) {
        if (pr.tty && !pr.quiet) {
            fputc('\n', stderr);
        }
        rc = cli_fail(&err, data);
        goto done;
    }
    if (pr.tty && !pr.quiet) {
        fputc('\n', stderr);
    }
    if (model_save(m, &blob, &len, &err) != 0 || cli_write_file(out, blob, len, &err) != 0) {
        rc = cli_fail(&err, out);
        goto done;
    }
    metrics = model_metrics(m);
    text = metrics != NULL ? cJSON_PrintUnformatted(metrics) : NULL;
    printf("%s\n", text != NULL ? text : "{}");
    cJSON_free(text);
    cJSON_Delete(metrics);
done:
    nn_free(blob);
    model_free(m);
    model_params_fini(&p);
    return rc;
}
