/*
 * fuzz_model_blob: libFuzzer target for the binary model loader (model_load). Any bytes
 * (and the same bytes with their length and checksum fields made valid) must give a model or
 * an error — never a crash, a leak or a huge allocation. A model that
 * loads is saved again and must load back (the writer and the reader agree).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model/model.h"
#include "nn/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model *m = NULL, *m2 = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;

    if (model_load(data, size, &m, NULL) != 0) {
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
        model_blob_seal(copy, size);
        if (model_load(copy, size, &m, NULL) != 0) {
            nn_free(copy);
            return 0;
        }
        nn_free(copy);
    }
    if (model_save(m, &blob, &len, NULL) == 0) {
        if (model_load(blob, len, &m2, NULL) != 0) {
            __builtin_trap();
        }
        model_free(m2);
        nn_free(blob);
    }
    model_free(m);
    return 0;
}
