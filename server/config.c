/*
 * config: flags and NEUROND_* variables for `neurond serve`, driven by one table.
 *
 * Each entry names the flag, the variable, the default (as the text --help shows), the
 * accepted range and where the value lands in struct srv_config. Values are applied in the
 * order default, environment, flag, so a flag always wins.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_STR, OPT_INT, OPT_LONG, OPT_BOOL };

struct opt {
    const char *flag;
    const char *env;
    enum opt_type type;
    size_t off;
    size_t size; /* OPT_STR: buffer size */
    long min, max;
    const char *def;
    const char *help;
};

#define S(field) offsetof(struct srv_config, field), sizeof(((struct srv_config *)0)->field)
#define N(field) offsetof(struct srv_config, field), 0

static const struct opt opts[] = {
    {"bind", "NEUROND_BIND", OPT_STR, S(bind), 0, 0, "127.0.0.1", "address to listen on"},
    {"port", "NEUROND_PORT", OPT_INT, N(port), 0, 65535, "8080", "TCP port (0 = any free port)"},
    {"db", "NEUROND_DB", OPT_STR, S(db), 0, 0, "./data/neurond.db", "SQLite database file"},
    {"store", "NEUROND_STORE", OPT_STR, S(store), 0, 0, "",
     "store URL: sqlite:PATH, or postgresql://user@host:port/db shared by replicas "
     "(password from the URL, PGPASSWORD or a passfile); \"\" = sqlite:<--db>"},
    {"job-lease-s", "NEUROND_JOB_LEASE_S", OPT_INT, N(job_lease_s), 2, 3600, "30",
     "seconds a replica's running job survives without its heartbeat (PostgreSQL store)"},
    {"spool-dir", "NEUROND_SPOOL_DIR", OPT_STR, S(spool), 0, 0, "",
     "directory for uploaded CSV files (default: spool/ beside the database)"},
    {"workers", "NEUROND_WORKERS", OPT_INT, N(workers), 0, 256, "0",
     "training worker threads (0 = number of cores)"},
    {"queue-size", "NEUROND_QUEUE_SIZE", OPT_INT, N(queue_size), 1, 100000, "64",
     "jobs that may wait for a worker; more gives 429 queue_full"},
    {"threads", "NEUROND_THREADS", OPT_INT, N(threads), 0, 1024, "0",
     "HTTP threads (0 = number of cores, at least 2)"},
    {"api-key", "NEUROND_API_KEY", OPT_STR, S(api_key), 0, 0, "",
     "require Authorization: Bearer <key> (empty = no auth)"},
    {"predict-key", "NEUROND_PREDICT_KEY", OPT_STR, S(predict_key), 0, 0, "",
     "an extra key allowed to predict and read only"},
    {"max-upload-mb", "NEUROND_MAX_UPLOAD_MB", OPT_LONG, N(max_upload_mb), 1, 1048576, "256",
     "largest /train upload, CSV prediction body or model import (MiB)"},
    {"max-json-mb", "NEUROND_MAX_JSON_MB", OPT_LONG, N(max_json_mb), 1, 4096, "16",
     "largest JSON request body (MiB)"},
    {"max-instances", "NEUROND_MAX_INSTANCES", OPT_LONG, N(max_instances), 1, 10000000, "10000",
     "most instances in one prediction request"},
    {"conn-timeout", "NEUROND_CONN_TIMEOUT", OPT_INT, N(conn_timeout), 1, 86400, "60",
     "seconds an idle connection is kept"},
    {"conn-limit", "NEUROND_CONN_LIMIT", OPT_INT, N(conn_limit), 1, 100000, "1024",
     "simultaneous connections; past it the oldest one waiting for a request (or sending its body "
     "below --body-min-rate) is closed"},
    {"header-timeout", "NEUROND_HEADER_TIMEOUT", OPT_INT, N(header_timeout), 1, 3600, "10",
     "seconds a request's headers may take, counted from the accept or the previous reply "
     "(then the connection is closed)"},
    {"body-timeout", "NEUROND_BODY_TIMEOUT", OPT_INT, N(body_timeout), 1, 3600, "10",
     "seconds a request body may go without a byte (then the connection is closed)"},
    {"body-min-rate", "NEUROND_BODY_MIN_RATE", OPT_LONG, N(body_min_rate), 0, 1000000000, "1024",
     "bytes per second a request body must average after --body-timeout seconds (0 = no rate)"},
    {"conn-memory-kb", "NEUROND_CONN_MEMORY_KB", OPT_INT, N(conn_memory_kb), 16, 65536, "32",
     "memory per connection for headers and buffers (KiB)"},
    {"log-requests", "NEUROND_LOG_REQUESTS", OPT_BOOL, N(log_requests), 0, 1, "1",
     "one log line per request on stderr (0 or 1)"},
    {"api-key-file", "NEUROND_API_KEY_FILE", OPT_STR, S(api_key_file), 0, 0, "",
     "read the API key from this file (first line); keeps it out of ps and the environment"},
    {"predict-key-file", "NEUROND_PREDICT_KEY_FILE", OPT_STR, S(predict_key_file), 0, 0, "",
     "read the predict-only key from this file (first line)"},
    {"insecure", "NEUROND_INSECURE", OPT_BOOL, N(insecure), 0, 1, "0",
     "allow binding a non-loopback address without an API key (0 or 1)"},
    {"tls-cert", "NEUROND_TLS_CERT", OPT_STR, S(tls_cert), 0, 0, "",
     "PEM certificate (chain) file: serve HTTPS (needs --tls-key)"},
    {"tls-key", "NEUROND_TLS_KEY", OPT_STR, S(tls_key), 0, 0, "", "PEM private key file for HTTPS"},
    {"conn-per-ip", "NEUROND_CONN_PER_IP", OPT_INT, N(conn_per_ip), 0, 100000, "256",
     "simultaneous connections from one client address (0 = no per-address limit)"},
    {"max-url-bytes", "NEUROND_MAX_URL_BYTES", OPT_LONG, N(max_url_bytes), 64, 1048576, "8192",
     "longest request target, path and query (414 past it)"},
    {"max-header-kb", "NEUROND_MAX_HEADER_KB", OPT_LONG, N(max_header_kb), 1, 65536, "16",
     "all request headers together (KiB; 431 past it; also bounded by --conn-memory-kb)"},
    {"max-json-depth", "NEUROND_MAX_JSON_DEPTH", OPT_LONG, N(max_json_depth), 2, 1000, "64",
     "deepest nesting of arrays and objects in a JSON body (400 past it)"},
    {"max-csv-rows", "NEUROND_MAX_CSV_ROWS", OPT_LONG, N(max_csv_rows), 2, 1000000000, "10000000",
     "data rows in a training CSV"},
    {"max-csv-columns", "NEUROND_MAX_CSV_COLUMNS", OPT_LONG, N(max_csv_columns), 2, 1000000,
     "10000", "columns in a training CSV"},
    {"max-csv-field-kb", "NEUROND_MAX_CSV_FIELD_KB", OPT_LONG, N(max_csv_field_kb), 1, 1048576,
     "1024", "bytes in one CSV field (KiB)"},
    {"max-epochs", "NEUROND_MAX_EPOCHS", OPT_LONG, N(max_epochs), 1, 100000, "100000",
     "largest 'epochs' a training job may ask for"},
    {"max-layer-width", "NEUROND_MAX_LAYER_WIDTH", OPT_LONG, N(max_layer_width), 1, 4096, "4096",
     "widest hidden layer a training job may ask for"},
    {"max-params", "NEUROND_MAX_PARAMS", OPT_LONG, N(max_params), 1000, 2000000000, "50000000",
     "weights and biases of a requested network (counted from the CSV's columns)"},
    {"retrain-after", "NEUROND_RETRAIN_AFTER", OPT_LONG, N(retrain_after), 0, 1000000000, "0",
     "retrain a model from its feedback after every N new feedback rows (0 = only on POST "
     "/models/<name>/retrain)"},
};

#undef S
#undef N

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* Parses text into the field of o; err names `who` (the flag or variable). */
static int apply(struct srv_config *cfg, const struct opt *o, const char *text, const char *who,
                 struct nn_err *err)
{
    char *p = (char *)cfg + o->off;

    if (o->type == OPT_STR) {
        if (strlen(text) >= o->size) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, who, "%s: value longer than %zu bytes", who,
                                 o->size - 1);
        }
        memcpy(p, text, strlen(text) + 1);
        return 0;
    }
    if (o->type == OPT_BOOL) {
        if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0) {
            *(int *)p = 1;
            return 0;
        }
        if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0 || strcmp(text, "no") == 0) {
            *(int *)p = 0;
            return 0;
        }
        return nn_err_set_at(err, NN_EINVAL, 0, 0, who, "%s: expected 0 or 1, got '%s'", who, text);
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < o->min || v > o->max) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, who,
                             "%s: expected an integer from %ld to %ld, got '%s'", who, o->min,
                             o->max, text);
    }
    if (o->type == OPT_INT) {
        *(int *)p = (int)v;
    } else {
        *(long *)p = v;
    }
    return 0;
}

/* 1 when text is a value a boolean flag takes (so `--flag 0` and a bare `--flag` both work). */
static int is_bool_word(const char *text)
{
    static const char *const words[] = {"0", "1", "true", "false", "yes", "no"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(text, words[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int srv_config_load(struct srv_config *cfg, int argc, char **argv, int *help, struct nn_err *err)
{
    char who[80];
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    *help = 0;
    for (size_t i = 0; i < N_OPTS; i++) {
        rc = apply(cfg, &opts[i], opts[i].def, opts[i].flag, err);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = getenv(opts[i].env);
        if (v != NULL) {
            rc = apply(cfg, &opts[i], v, opts[i].env, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, arg, "unexpected argument '%s'", arg);
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t i = 0; i < N_OPTS; i++) {
            if (strlen(opts[i].flag) == nlen && strncmp(opts[i].flag, name, nlen) == 0) {
                o = &opts[i];
            }
        }
        snprintf(who, sizeof(who), "--%.*s", (int)(nlen < 60 ? nlen : 60), name);
        if (o == NULL) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, who, "unknown flag %s (see --help)", who);
        }
        const char *val = NULL;
        if (eq != NULL) {
            val = eq + 1;
        } else if (o->type == OPT_BOOL && (a + 1 >= argc || !is_bool_word(argv[a + 1]))) {
            val = "1"; /* a bare switch: --insecure */
        } else if (a + 1 < argc) {
            val = argv[++a];
        } else {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, who, "%s needs a value", who);
        }
        rc = apply(cfg, o, val, who, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

void srv_config_usage(FILE *f)
{
    fprintf(f, "usage: neurond serve [flags]\n\n"
               "Starts the HTTP daemon. Every flag also reads an environment variable;\n"
               "a flag wins over its variable. --flag value and --flag=value both work.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s", opts[i].flag);
        fprintf(f, "  %-18s %-24s default: %s\n  %-18s %s\n", left, opts[i].env,
                opts[i].def[0] != '\0' ? opts[i].def : "(none)", "", opts[i].help);
    }
}
