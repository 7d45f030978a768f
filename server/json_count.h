/*
 * json_count: counts what a model document holds — its inputs, its layers, the numbers of
 * its layers (weights and biases), its values in all — from the raw JSON text, before any
 * tree is built. cJSON spends about 80 bytes a value, so a 100 MB document of a million
 * inputs cost ~900 MB before model_import could refuse it; counted first, it is refused
 * with the body as the only memory spent.
 * A scanner, not a parser: on malformed text the counts are approximate (cJSON then refuses
 * it). No allocation, no recursion. Thread-safety: pure.
 */
#ifndef NEUROND_SERVER_JSON_COUNT_H
#define NEUROND_SERVER_JSON_COUNT_H

#include <stddef.h>

struct srv_json_counts {
    size_t inputs;  /* elements of the top-level "inputs" array */
    size_t layers;  /* elements of the top-level "layers" array */
    size_t numbers; /* numbers anywhere inside the top-level "layers" and "ensemble" */
    size_t values;  /* every value of the document (containers included) */
};

/**
 * Counts the model document in text.
 * @param text, len [in] the JSON text (need not be NUL-terminated).
 * @param out [out] the counts, filled whole.
 */
void srv_json_count(const char *text, size_t len, struct srv_json_counts *out);

#endif
