/*
 * cli_util: what every subcommand needs — error lines, model files, parameter options.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"

int cli_fail(const struct nn_err *err, const char *where)
{
    fprintf(stderr, "neurond: ");
    if (where != NULL) {
        fprintf(stderr, "%s", where);
        if (err->line > 0) {
            fprintf(stderr, ":%ld", err->line);
            if (err->col > 0) {
                fprintf(stderr, ":%ld", err->col);
            }
        }
        fprintf(stderr, ": ");
    }
    fprintf(stderr, "%s", err->msg[0] != '\0' ? err->msg : nn_strerror(err->code));
    if (err->field[0] != '\0' && strstr(err->msg, err->field) == NULL) {
        fprintf(stderr, " (%s)", err->field);
    }
    fputc('\n', stderr);
    return CLI_ERR;
}

int cli_read_file(const char *path, size_t max, char **out, size_t *len, struct nn_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (f == NULL) {
        return nn_err_set(err, NN_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    for (;;) {
        size_t got;

        if (cap - n < 65536) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            char *nb;

            if (nc > max + 1) {
                nc = max + 1;
            }
            if (nc <= cap) {
                nn_free(buf);
                fclose(f);
                return nn_err_set(err, NN_ERANGE, "%s is larger than %zu bytes", path, max);
            }
            nb = nn_realloc(buf, nc);
            if (nb == NULL) {
                nn_free(buf);
                fclose(f);
                return nn_err_set(err, NN_ENOMEM, "out of memory reading %s", path);
            }
            buf = nb;
            cap = nc;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        nn_free(buf);
        fclose(f);
        return nn_err_set(err, NN_EIO, "cannot read %s", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int cli_load_model(const char *path, struct model **out, struct nn_err *err)
{
    char *buf;
    size_t len;
    int rc;

    nn_err_clear(err);
    rc = cli_read_file(path, (size_t)1 << 31, &buf, &len, err);
    if (rc == 0) {
        rc = model_load((const unsigned char *)buf, len, out, err);
        nn_free(buf);
    }
    return rc != 0 ? cli_fail(err, path) : 0;
}

int cli_save_model(const struct model *m, const char *path, struct nn_err *err)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int rc = model_save(m, &blob, &len, err);

    if (rc == 0) {
        rc = cli_write_file(path, blob, len, err);
    }
    nn_free(blob);
    return rc;
}

int cli_write_file(const char *path, const void *data, size_t len, struct nn_err *err)
{
    size_t n = strlen(path) + 16;
    char *tmp = nn_malloc(n);
    FILE *f;

    if (tmp == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (f == NULL) {
        nn_err_set(err, NN_EIO, "cannot write %s: %s", tmp, strerror(errno));
        nn_free(tmp);
        return NN_EIO;
    }
    if (fwrite(data, 1, len, f) != len || fclose(f) != 0 || rename(tmp, path) != 0) {
        nn_err_set(err, NN_EIO, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        nn_free(tmp);
        return NN_EIO;
    }
    nn_free(tmp);
    return 0;
}

int cli_delimiter(const char *s)
{
    if (strcmp(s, ",") == 0 || strcmp(s, ";") == 0) {
        return s[0];
    }
    if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0 || strcmp(s, "\t") == 0) {
        return '\t';
    }
    return -1;
}

int cli_param_option(int argc, char **argv, int *i, struct model_params *p)
{
    char key[64];
    const char *opt = argv[*i] + 2;
    const char *eq = strchr(opt, '=');
    const char *value;
    size_t klen = eq != NULL ? (size_t)(eq - opt) : strlen(opt);
    struct nn_err err;
    size_t j;
    int rc;

    if (klen == 0 || klen >= sizeof(key)) {
        fprintf(stderr, "neurond: unknown option %s\n", argv[*i]);
        return CLI_USAGE;
    }
    for (j = 0; j < klen; j++) {
        key[j] = opt[j] == '-' ? '_' : opt[j];
    }
    key[klen] = '\0';
    if (eq != NULL) {
        value = eq + 1;
    } else if (*i + 1 < argc) {
        value = argv[++*i];
    } else {
        fprintf(stderr, "neurond: option --%s needs a value\n", opt);
        return CLI_USAGE;
    }
    nn_err_clear(&err);
    rc = model_params_set(p, key, value, &err);
    if (rc == NN_ENOTFOUND) {
        fprintf(stderr, "neurond: unknown option --%.*s\n", (int)klen, opt);
        return CLI_USAGE;
    }
    if (rc != 0) {
        return cli_fail(&err, NULL);
    }
    return 0;
}
