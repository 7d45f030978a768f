/*
 * cmd_learn: `neurond learn MODEL.nrd FEEDBACK.csv -o NEW.nrd` — what POST
 * /models/<name>/retrain does, offline: the feedback rows (but their holdout share, chosen by
 * content hash exactly as the daemon chooses it) and an optional replay CSV train a warm start
 * from MODEL.nrd; the champion/challenger gate compares the two on the feedback's holdout share
 * and an optional holdout CSV (the old validation rows); NEW.nrd is written only when the new
 * model passes (or with --force). Prints the metrics and the verdict as JSON.
 */
#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "nn/alloc.h"
#include "server/api_feedback.h"

static void learn_usage(FILE *out)
{
    fputs("usage: neurond learn MODEL.nrd FEEDBACK.csv -o NEW.nrd [options]\n"
          "\n"
          "Retrains MODEL.nrd from feedback (a CSV with its inputs and label column), as\n"
          "POST /models/<name>/retrain does: a warm start on the feedback rows (but the share\n"
          "held out for the gate, 3/16 by content hash) and a seeded sample of the --replay rows\n"
          "(4 per feedback row, at least 500), then the\n"
          "champion/challenger gate on the held-out feedback and the --holdout rows. Writes\n"
          "NEW.nrd when the new model is at least as good on each (or with --force); prints\n"
          "{\"metrics\", \"gate\", \"rows\"} as JSON. Exit 0 when written, 1 when held back.\n"
          "\n"
          "options:\n"
          "  -o, --output NEW.nrd        the model file to write (required)\n"
          "      --replay TRAIN.csv      old training rows to replay a sample of (not forgetting)\n"
          "      --holdout VALID.csv     old validation rows the gate compares on too\n"
          "      --force                 write NEW.nrd even when the gate holds it back\n"
          "  -q, --quiet                 no progress on stderr\n"
          "  -h, --help                  this text\n"
          "\n"
          "training parameters (those of POST /train; the network is MODEL.nrd's):\n",
          out);
    cli_params_usage(out);
}

/* Appends the feedback rows of a CSV that fits m: its holdout share (by content hash, as the
 * daemon chooses it) to hold, the rest to train; counts[0], counts[1] grow. */
static int add_feedback(const struct model *m, const char *path, char delim,
                        const struct model_limits *lim, FILE *train, FILE *hold,
                        long long counts[2], struct nn_err *err)
{
    cJSON *insts = NULL, *labs = NULL;
    int rc = model_feedback_csv(m, path, delim, lim, SIZE_MAX, &insts, &labs, err);
    int n = rc == 0 ? cJSON_GetArraySize(insts) : 0;

    for (int i = 0; rc == 0 && i < n; i++) {
        cJSON *c = NULL;
        char hash[65];

        rc = model_instance_canonical(m, cJSON_GetArrayItem(insts, i), &c, err);
        if (rc == 0 && srv_feedback_hash(c, hash) != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        }
        if (rc == 0) {
            int h = srv_feedback_holdout(hash);

            model_row_write(m, h ? hold : train, c,
                            cJSON_GetStringValue(cJSON_GetArrayItem(labs, i)));
            counts[h]++;
        }
        cJSON_Delete(c);
    }
    cJSON_Delete(insts);
    cJSON_Delete(labs);
    return rc;
}

/* A temporary CSV under TMPDIR holding m's header; *f open for appending rows. */
static int temp_csv(const struct model *m, char *path, size_t cap, FILE **f, struct nn_err *err)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    snprintf(path, cap, "%s/neurond-learn-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    fd = mkstemp(path);
    *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (*f == NULL) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        path[0] = '\0';
        return nn_err_set(err, NN_EIO, "cannot make a temporary file in %s",
                          dir != NULL ? dir : "/tmp");
    }
    model_rows_header(m, *f);
    return 0;
}

struct learn_args {
    const char *model, *feedback, *out, *replay, *holdout;
    int force, quiet;
};

/* Parses argv into a and p. @return 0 to go on, or 1 with *status the exit status (help or
 * usage printed). */
static int learn_parse(int argc, char **argv, struct learn_args *a, struct model_params *p,
                       int *status)
{
    int bad = 0;

    for (int i = 1; i < argc && !bad; i++) {
        const char **v = NULL;

        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            v = &a->out;
        } else if (strcmp(argv[i], "--replay") == 0) {
            v = &a->replay;
        } else if (strcmp(argv[i], "--holdout") == 0) {
            v = &a->holdout;
        } else if (strcmp(argv[i], "--force") == 0) {
            a->force = 1;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            a->quiet = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            learn_usage(stdout);
            *status = CLI_OK;
            return 1;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            *status = cli_param_option(argc, argv, &i, p);
            if (*status != 0) {
                return 1;
            }
        } else if (a->model == NULL) {
            a->model = argv[i];
        } else if (a->feedback == NULL) {
            a->feedback = argv[i];
        } else {
            bad = 1;
        }
        if (v != NULL && i + 1 < argc) {
            *v = argv[++i];
        } else if (v != NULL) {
            bad = 1;
        }
    }
    if (bad || a->model == NULL || a->feedback == NULL || a->out == NULL) {
        learn_usage(stderr);
        *status = CLI_USAGE;
        return 1;
    }
    return 0;
}

static int on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    (void)ud;
    fprintf(stderr, "epoch %d/%d loss %.6f val_loss %.6f\n", st->epoch, st->epochs, st->train_loss,
            st->val_loss);
    return 0;
}

int cli_learn(int argc, char **argv)
{
    struct learn_args a = {NULL, NULL, NULL, NULL, NULL, 0, 0};
    struct model_params p;
    struct model_limits lim;
    struct model *base = NULL, *m = NULL;
    struct nn_err err;
    char tpath[256] = "", hpath[2][256] = {"", ""};
    FILE *train = NULL, *hold[2] = {NULL, NULL};
    long long counts[3] = {0, 0, 0}, hold_rows = 0; /* feedback trained, held out; replay */
    cJSON *verdict = NULL, *doc = NULL;
    int rc;

    model_params_default(&p);
    model_limits_default(&lim);
    nn_err_clear(&err);
    if (learn_parse(argc, argv, &a, &p, &rc) != 0) {
        goto done;
    }
    if (cli_load_model(a.model, &base, &err) != 0) {
        rc = CLI_ERR;
        goto done;
    }
    rc = temp_csv(base, tpath, sizeof(tpath), &train, &err);
    for (int i = 0; rc == 0 && i < 2; i++) {
        rc = temp_csv(base, hpath[i], sizeof(hpath[i]), &hold[i], &err);
    }
    if (rc != 0) {
        rc = cli_fail(&err, NULL);
        goto done;
    }
    rc = add_feedback(base, a.feedback, p.delimiter, &lim, train, hold[0], counts, &err);
    if (rc != 0) {
        rc = cli_fail(&err, a.feedback);
        goto done;
    }
    if (a.replay != NULL) {
        /* as a retraining replays the rows kept with the version: a seeded sample */
        size_t n = 0;

        rc = model_rows_sample(base, a.replay, p.delimiter, &lim,
                               model_replay_rows((size_t)counts[0]), p.seed, train, &n, &err);
        counts[2] = (long long)n;
        if (rc != 0) {
            rc = cli_fail(&err, a.replay);
            goto done;
        }
    }
    if (a.holdout != NULL) {
        size_t n = 0;

        rc = model_rows_sample(base, a.holdout, p.delimiter, &lim, SIZE_MAX, p.seed, hold[1], &n,
                               &err);
        hold_rows = (long long)n;
        if (rc != 0) {
            rc = cli_fail(&err, a.holdout);
            goto done;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (hold[i] != NULL && fclose(hold[i]) != 0 && rc == 0) {
            rc = nn_err_set(&err, NN_EIO, "cannot write a temporary file");
        }
        hold[i] = NULL;
    }
    if (train != NULL && fclose(train) != 0 && rc == 0) {
        rc = nn_err_set(&err, NN_EIO, "cannot write a temporary file");
    }
    train = NULL;
    if (rc == 0 && counts[0] + counts[2] == 0) {
        rc = nn_err_set(&err, NN_EINVAL,
                        "no rows to learn from: every feedback row is in the holdout share and "
                        "there is no --replay");
    }
    if (rc == 0) {
        /* the base is a file here: its name is the lineage the card records */
        p.delimiter = ',';
        rc = model_params_set(&p, "base", a.model, &err);
    }
    if (rc == 0) {
        rc = model_train_warm(tpath, base, &p, &lim, a.quiet ? NULL : on_epoch, NULL, NULL, &m,
                              &err);
    }
    if (rc == 0) {
        struct model_gate_part parts[2] = {{"feedback", hpath[0], counts[1]},
                                           {"validation", hpath[1], hold_rows}};
        rc = model_gate_parts(base, m, parts, 2, ',', &lim, &verdict, &err);
    }
    if (rc != 0) {
        rc = cli_fail(&err, a.feedback);
        goto done;
    }
    int promoted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(verdict, "promoted"));
    doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "metrics", model_metrics(m));
    cJSON_AddItemToObject(doc, "gate", verdict);
    verdict = NULL;
    cJSON *rows = cJSON_AddObjectToObject(doc, "rows");
    cJSON_AddNumberToObject(rows, "feedback", (double)counts[0]);
    cJSON_AddNumberToObject(rows, "feedback_holdout", (double)counts[1]);
    cJSON_AddNumberToObject(rows, "replay", (double)counts[2]);
    cJSON_AddNumberToObject(rows, "holdout", (double)hold_rows);
    cJSON_AddBoolToObject(doc, "written", promoted || a.force);
    char *text = cJSON_PrintUnformatted(doc);
    printf("%s\n", text != NULL ? text : "{}");
    cJSON_free(text);
    if (!promoted && !a.force) {
        fprintf(stderr,
                "neurond: %s: the new model is not at least as good as %s on the holdout: not "
                "written (--force writes it anyway)\n",
                a.out, a.model);
        rc = CLI_ERR;
    } else if (cli_save_model(m, a.out, &err) != 0) {
        rc = cli_fail(&err, a.out);
    }
done:
    if (train != NULL) {
        fclose(train);
    }
    for (int i = 0; i < 2; i++) {
        if (hold[i] != NULL) {
            fclose(hold[i]);
        }
        if (hpath[i][0] != '\0') {
            unlink(hpath[i]);
        }
    }
    if (tpath[0] != '\0') {
        unlink(tpath);
    }
    cJSON_Delete(verdict);
    cJSON_Delete(doc);
    model_free(m);
    model_free(base);
    model_params_fini(&p);
    return rc;
}
