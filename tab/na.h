/*
 * na: the missing-value rule — which cells are missing. A cell is missing when, after its
 * surrounding spaces and tabs are trimmed, it is empty or exactly one of the markers of a list
 * (case-sensitive). The default list is pandas' default plus `?`; a training parameter
 * (`na_values`, comma-separated) replaces it and the fitted pipeline stores it, so training,
 * prediction and evaluation read cells by one rule. A list is a value (no heap): copy it freely.
 * Does not: decide types or impute (schema, features do).
 * Thread-safety: a list is read-only once parsed.
 */
#ifndef NEUROND_TAB_NA_H
#define NEUROND_TAB_NA_H

#include <stddef.h>

#include "nn/err.h"

#define TAB_NA_MAX      32   /* markers in one list */
#define TAB_NA_MAX_LEN  32   /* bytes of one marker */
#define TAB_NA_MAX_SPEC 1100 /* bytes of a comma-separated list */

struct tab_na {
    int n; /* markers, in list order */
    char items[TAB_NA_MAX][TAB_NA_MAX_LEN + 1];
    unsigned char first[32]; /* bitmap of the markers' first bytes */
};

/** The default list: "", #N/A, #N/A N/A, #NA, -1.#IND, -1.#QNAN, -NaN, -nan, 1.#IND, 1.#QNAN,
 *  <NA>, N/A, NA, NULL, NaN, None, n/a, nan, null, ?. Borrowed, static. */
const struct tab_na *tab_na_default(void);

/**
 * Parses a comma-separated list of markers (each trimmed of spaces and tabs; empty items are
 * skipped; an empty cell is always missing). spec NULL: the default list.
 * @param out [out] the list (written on success only).
 * @return 0 or NN_EINVAL (err->field "na_values": too many markers, one too long, or a marker
 *         holding a control byte).
 */
int tab_na_parse(const char *spec, struct tab_na *out, struct nn_err *err);

/**
 * Writes the list back as its comma-separated spec (the form tab_na_parse reads).
 * @param buf [out] at least TAB_NA_MAX_SPEC bytes.
 */
void tab_na_spec(const struct tab_na *na, char *buf, size_t len);

/**
 * Whether a cell is missing: empty or blank, or one of the markers after trimming spaces and
 * tabs. cell NULL is missing. na NULL: the default list.
 */
int tab_na_is(const struct tab_na *na, const char *cell);

#endif
