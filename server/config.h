/*
 * config: the daemon's settings, read once at start-up from NEUROND_* environment variables
 * and then from command-line flags (flags win), each checked against its range.
 *
 * One static table describes every setting (flag, variable, default, help), so `--help`,
 * the parser and docs/api.md cannot drift apart. The filled struct is read-only afterwards
 * and shared by every thread through `const struct srv_config *`.
 * Does not: open files or sockets. Thread-safety: fill before starting threads, then read-only.
 */
#ifndef NEUROND_SERVER_CONFIG_H
#define NEUROND_SERVER_CONFIG_H

#include <stdio.h>

#include "nn/err.h"

#define SRV_CONFIG_STR_MAX 1024

struct srv_config {
    char bind[64];                  /* --bind: IPv4/IPv6 address to listen on */
    int port;                       /* --port */
    char db[SRV_CONFIG_STR_MAX];    /* --db: SQLite file */
    char store[SRV_CONFIG_STR_MAX]; /* --store: store URL; "" = the SQLite file --db */
    int job_lease_s;                /* --job-lease-s: a running job's lease (shared store) */
    char spool[SRV_CONFIG_STR_MAX]; /* --spool-dir: uploads; "" = <dir of db>/spool */
    int workers;                    /* --workers: training threads; 0 = cores */
    int queue_size;                 /* --queue-size: queued jobs waiting for a worker */
    int threads;                    /* --threads: HTTP thread pool; 0 = cores (>= 2) */
    char api_key[256];              /* --api-key: "" = no auth */
    char predict_key[256];          /* --predict-key: "" = none */
    long max_upload_mb;             /* --max-upload-mb: /train and CSV bodies */
    long max_json_mb;               /* --max-json-mb: JSON bodies (16) */
    long max_instances;             /* --max-instances per predict request */
    int conn_timeout;               /* --conn-timeout: idle seconds before a close */
    int conn_limit;                 /* --conn-limit: simultaneous connections */
    int conn_memory_kb;             /* --conn-memory-kb: per-connection MHD memory */
    int header_timeout;             /* --header-timeout: seconds for a request's headers */
    int body_timeout;               /* --body-timeout: seconds a body may go without a byte */
    long body_min_rate;             /* --body-min-rate: bytes/s a body averages; 0 = off */
    int log_requests;               /* --log-requests: 1 = one line per request */
    /* security and limits (hardening; see docs/operations.md) */
    char api_key_file[SRV_CONFIG_STR_MAX];     /* --api-key-file: the key read from a file */
    char predict_key_file[SRV_CONFIG_STR_MAX]; /* --predict-key-file */
    int insecure;                      /* --insecure: allow a non-loopback bind without a key */
    char tls_cert[SRV_CONFIG_STR_MAX]; /* --tls-cert: PEM certificate (chain); "" = plain HTTP */
    char tls_key[SRV_CONFIG_STR_MAX];  /* --tls-key: PEM private key */
    int conn_per_ip;                   /* --conn-per-ip: simultaneous connections per client IP */
    long max_url_bytes;                /* --max-url-bytes: request target length (414 past it) */
    long max_header_kb;                /* --max-header-kb: all request headers together (431) */
    long max_json_depth;               /* --max-json-depth: nesting of JSON bodies (400) */
    long max_csv_rows;                 /* --max-csv-rows: data rows of a training CSV */
    long max_csv_columns;              /* --max-csv-columns */
    long max_csv_field_kb;             /* --max-csv-field-kb: bytes in one CSV field */
    long max_epochs;                   /* --max-epochs: largest `epochs` a job may ask for */
    long max_layer_width;              /* --max-layer-width: largest hidden layer */
    long max_params;                   /* --max-params: weights + biases of a requested network */
    long retrain_after; /* --retrain-after: retrain a model after every N new feedback rows;
                           0 = never by itself */
};

/**
 * Fills cfg with the defaults, then the NEUROND_* variables of envp, then the flags.
 * @param cfg  [out] the settings; written whole (defaults first) even on failure.
 * @param argc, argv [in] the flags after the subcommand (argv[0] is "serve").
 * @param help [out] 1 when --help was given (nothing else is checked then).
 * @return 0, or NN_EINVAL with err->field = the flag or variable at fault.
 * Thread-safety: reads the environment; call before threads start.
 */
int srv_config_load(struct srv_config *cfg, int argc, char **argv, int *help, struct nn_err *err);

/**
 * Writes the usage text: every flag with its variable, default and meaning.
 * @param f [in] where to write.
 */
void srv_config_usage(FILE *f);

#endif
