/*
 * cmd_inspect: `neurond inspect MODEL.nrd` prints the model card for a person — the task and
 * label, the network, the validation metrics and one table row per CSV column (its type,
 * missing and distinct counts and the reason for its type or for ignoring it), so what the
 * network was given and what was left out reads at a glance. `--json` prints the card as
 * JSON (API.md's model card without the server's fields) for scripts.
 * Everything printed comes from model_card: the table and the JSON cannot disagree.
 */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define NAME_MAX_WIDTH 32

/* Prints a JSON array of strings or numbers joined by sep (numbers as integers). */
static void print_list(const cJSON *a, const char *sep)
{
    const cJSON *it;
    int first = 1;

    cJSON_ArrayForEach(it, a)
    {
        if (cJSON_IsString(it)) {
            printf("%s%s", first ? "" : sep, it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            printf("%s%.0f", first ? "" : sep, it->valuedouble);
        }
        first = 0;
    }
}

static const char *str_of(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));

    return s != NULL ? s : "";
}

static double num_of(const cJSON *o, const char *key)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItem(o, key));
}

/* The columns table: name, type, missing, distinct ("N+" when counting stopped), reason. */
static void print_columns(const cJSON *cols)
{
    const cJSON *c;
    int w = 9; /* "(unnamed)" */

    cJSON_ArrayForEach(c, cols)
    {
        int len = (int)strlen(str_of(c, "name"));

        w = len > w ? (len < NAME_MAX_WIDTH ? len : NAME_MAX_WIDTH) : w;
    }
    printf("columns:\n  %-*s  %-11s %8s %9s  %s\n", w, "name", "type", "missing", "distinct",
           "reason");
    cJSON_ArrayForEach(c, cols)
    {
        const char *name = str_of(c, "name");
        char distinct[32];

        snprintf(distinct, sizeof(distinct), "%.0f%s", num_of(c, "distinct"),
                 cJSON_IsTrue(cJSON_GetObjectItem(c, "distinct_at_least")) ? "+" : "");
        printf("  %-*.*s  %-11s %8.0f %9s  %s\n", w, w, name[0] != '\0' ? name : "(unnamed)",
               str_of(c, "type"), num_of(c, "missing"), distinct, str_of(c, "reason"));
    }
}

/* The card's "ensemble" (absent for one network): k, why, one line per member. */
static void print_ensemble(const cJSON *e)
{
    const cJSON *it;
    int i = 0;

    if (e == NULL) {
        return;
    }
    printf("ensemble:  the mean of %.0f networks' outputs", num_of(e, "k"));
    if (cJSON_IsString(cJSON_GetObjectItem(e, "why"))) {
        printf(" (%s)", str_of(e, "why"));
    }
    printf("\n");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(e, "members"))
    {
        printf("  %2d  hidden [", ++i);
        print_list(cJSON_GetObjectItem(it, "hidden"), ",");
        printf("] %s, %.0f parameters, l2 %g, learning rate %g, %.0f epochs  %s\n",
               str_of(it, "activation"), num_of(it, "parameters"), num_of(it, "l2"),
               num_of(it, "learning_rate"), num_of(it, "epochs"), str_of(it, "origin"));
    }
}

/* The whole card as text. */
/* The importance table: each input's mean drop of the metric when its values are shuffled,
 * with the spread over the shuffles, largest first. */
static void print_importance(const cJSON *imp)
{
    const cJSON *it;

    if (!cJSON_IsObject(imp)) {
        return;
    }
    printf("importance (permutation on the validation split: drop in %s, mean +- sd of %.0f "
           "shuffles):\n",
           str_of(imp, "metric"), num_of(imp, "shuffles"));
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(imp, "inputs"))
    {
        printf("  %-24.64s %10.4f +- %.4f\n", str_of(it, "name"), num_of(it, "mean"),
               num_of(it, "sd"));
    }
}

static void print_card(const cJSON *card)
{
    const cJSON *label = cJSON_GetObjectItem(card, "label");
    const cJSON *arch = cJSON_GetObjectItem(card, "architecture");
    const cJSON *cls = cJSON_GetObjectItem(label, "classes");
    const cJSON *it;

    printf("task:      %s, label '%s'", str_of(card, "task"), str_of(label, "name"));
    if (cJSON_GetArraySize(cls) > 0) {
        printf(" (%d classes: ", cJSON_GetArraySize(cls));
        print_list(cls, ", ");
        printf(")");
    }
    printf("\nnetwork:   ");
    print_list(cJSON_GetObjectItem(arch, "layers"), " -> ");
    printf(" (%s hidden, %s output), %.0f parameters\n", str_of(arch, "activation"),
           str_of(arch, "output"), num_of(arch, "parameters"));
    printf("metrics:  ");
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(card, "metrics"))
    {
        if (cJSON_IsNumber(it)) {
            printf(" %s %.6g", it->string, it->valuedouble);
        }
    }
    printf("\n");
    print_ensemble(cJSON_GetObjectItem(card, "ensemble"));
    print_importance(cJSON_GetObjectItem(card, "importance"));
    print_columns(cJSON_GetObjectItem(card, "columns"));
}

int cli_inspect(int argc, char **argv)
{
    struct model *m = NULL;
    struct nn_err err;
    const char *path = NULL;
    int json = 0;
    cJSON *card;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (path == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
            path = argv[i];
        } else {
            path = NULL;
            break;
        }
    }
    if (path == NULL) {
        fputs("usage: neurond inspect MODEL.nrd [--json]\n", stderr);
        return CLI_USAGE;
    }
    if (cli_load_model(path, &m, &err) != 0) {
        return CLI_ERR;
    }
    card = model_card(m);
    model_free(m);
    if (card == NULL) {
        nn_err_set(&err, NN_ENOMEM, "out of memory");
        return cli_fail(&err, path);
    }
    if (json) {
        char *text = cJSON_Print(card);

        if (text == NULL) {
            cJSON_Delete(card);
            nn_err_set(&err, NN_ENOMEM, "out of memory");
            return cli_fail(&err, path);
        }
        printf("%s\n", text);
        cJSON_free(text);
    } else {
        print_card(card);
    }
    cJSON_Delete(card);
    return CLI_OK;
}
