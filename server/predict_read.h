/*
 * predict_read: reads the common body of POST /predict straight from its bytes,
 *   {"model": "name", "version": n, "explain": true | false, "instances": [[number, ...], ...]}
 * (keys in any order, "model", "version" and "explain" optional, rows of equal width), with no
 * cJSON tree, no allocation for small bodies and one number parser for the numbers. Any
 * other body (other keys, a duplicate key, escapes, nulls, objects, unequal rows, a number
 * outside JSON's grammar or float range) is "not mine": the caller goes the general cJSON way,
 * which answers every error; so what this reads is always a body cJSON reads to the same values.
 * Thread-safety: one doc per thread.
 */
#ifndef NEUROND_SERVER_PREDICT_READ_H
#define NEUROND_SERVER_PREDICT_READ_H

#include <stddef.h>

#define SRV_PREDICT_INLINE 512 /* values kept inside the doc before it allocates */

struct srv_predict_doc {
    char model[72]; /* "" when the body has no "model" (names are at most 64 bytes) */
    int has_version;
    int version;
    int explain; /* 1: "explain": true */
    size_t rows, width;
    double *x; /* rows * width values, row-major: inline_x or an nn_malloc'd block */
    size_t cap;
    double inline_x[SRV_PREDICT_INLINE];
};

/**
 * Reads body[0..len) into d (which needs no set-up).
 * @return 1 when the body has exactly the common shape; 0 when it does not (or memory ran
 * out), and then the caller parses it the general way. Either way call srv_predict_doc_fini.
 */
int srv_predict_read(const char *body, size_t len, struct srv_predict_doc *d);

/** Frees what srv_predict_read allocated. */
void srv_predict_doc_fini(struct srv_predict_doc *d);

#endif
