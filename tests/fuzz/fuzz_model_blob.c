/*
 * fuzz_model_blob: libFuzzer target for the binary model loader (nn_model_load). Any bytes
 * (and the same bytes with their length and checksum fields made valid) must give a model or
 * an error — never a crash, a leak or a huge allocation. A model that
 * loads is saved again and must load back (the writer and the reader agree).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nn_model *m = NULL, *m2 = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;

    if (nn_model_load(data, size, &m, NULL) != 0) {
        /* the same bytes with a valid length and checksum: reach the parsers behind them */
        unsigned char *copy;

        if (size < 20 || size > (1u << 20)) {
            return 0;
        }
        copy = nn_malloc(size);
        if (copy == NULL) {
            return 0;
        }
        memcpy(copy, data, size);
        nn_model_blob_seal(copy, size);
        if (nn_model_load(copy, size, &m, NULL) != 0) {
            nn_free(copy);
            return 0;
        }
        nn_free(copy);
    }
    if (nn_model_save(m, &blob, &len, NULL) == 0) {
        if (nn_model_load(blob, len, &m2, NULL) != 0) {
            __builtin_trap();
        }
        nn_model_free(m2);
        nn_free(blob);
    }
    nn_model_free(m);
    return 0;
}
