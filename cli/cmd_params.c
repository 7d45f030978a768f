/*
 * cmd_params: the training parameters as the command line shows them, from model/params.h's
 * table: the option list of `neurond train --help` (and of the man page made from it), and
 * `neurond params [--json]`, whose JSON is what scripts/openapi.py and scripts/params-doc.py
 * read to write docs/openapi.json and docs/api.md's table.
 */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model/params.h"

#define HELP_COL   30  /* where descriptions start */
#define HELP_WIDTH 100 /* the line length they wrap at */

/* Writes text from column `col` (the cursor already there), wrapped at HELP_WIDTH. */
static void put_wrapped(FILE *out, const char *text, int col)
{
    int at = col;

    while (*text != '\0') {
        size_t n = strcspn(text, " ");

        if (at > col && at + 1 + (int)n > HELP_WIDTH) {
            fprintf(out, "\n%*s", col, "");
            at = col;
        } else if (at > col) {
            fputc(' ', out);
            at++;
        }
        fwrite(text, 1, n, out);
        at += (int)n;
        text += n;
        while (*text == ' ') {
            text++;
        }
    }
    fputc('\n', out);
}

void cli_params_usage(FILE *out)
{
    size_t n, i;
    const struct model_param *t = model_param_table(&n);

    for (i = 0; i < n; i++) {
        char opt[64], meta[256], accepts[256], text[1024];
        int w = fprintf(out, "  %s %s", model_param_option(&t[i], opt, sizeof(opt)),
                        model_param_metavar(&t[i], meta, sizeof(meta)));

        if (w >= HELP_COL) {
            fprintf(out, "\n%*s", HELP_COL, "");
        } else {
            fprintf(out, "%*s", HELP_COL - w, "");
        }
        snprintf(text, sizeof(text), "%s (default: %s; %s)", t[i].help,
                 t[i].def != NULL ? t[i].def : t[i].unset,
                 model_param_accepts(&t[i], accepts, sizeof(accepts)));
        put_wrapped(out, text, HELP_COL);
    }
}

int cli_params(int argc, char **argv)
{
    cJSON *doc;
    char *text;

    if (argc == 1) {
        fputs("training parameters (options of `neurond train`, fields of POST /train):\n", stdout);
        cli_params_usage(stdout);
        return CLI_OK;
    }
    if (argc != 2 || strcmp(argv[1], "--json") != 0) {
        fputs("usage: neurond params [--json]\n", stderr);
        return CLI_USAGE;
    }
    doc = model_param_table_json();
    text = doc != NULL ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) {
        fputs("neurond: out of memory\n", stderr);
        return CLI_ERR;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return CLI_OK;
}
