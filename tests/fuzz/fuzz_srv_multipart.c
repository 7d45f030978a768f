/*
 * fuzz_srv_multipart: libFuzzer target for the multipart/form-data path of POST /train —
 * MHD_PostProcessor driven by server/http.c exactly as in the daemon (fields kept, the
 * `file` part streamed to a spool file and hashed), then the form's parameters and the CSV
 * checks of api_train — through an in-process daemon (tests/fuzz/srv_harness.h).
 * The first input byte picks the Content-Type (boundary variants, text/csv); the rest is
 * the body. Seeds use the boundary "XyZ". Accepted jobs are cancelled at once.
 * Any 500, non-JSON error reply, crash, leak or sanitizer report is a bug.
 *   make build/fuzz/fuzz_srv_multipart && build/fuzz/fuzz_srv_multipart \
 *       tests/fuzz/corpus_srv_multipart
 */
#include <stdint.h>

#include "tests/fuzz/srv_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct harness *h;

static const char *const types[] = {
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=\"XyZ\"",
    "multipart/form-data; charset=utf-8; boundary=XyZ",
    "multipart/form-data",
    "text/csv",
    "multipart/form-data; boundary=",
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    h = harness_start();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[1 << 16];

    if (size < 1) {
        return 0;
    }
    const char *ct = types[data[0] % N_TYPES];
    const char *path = data[0] % N_TYPES == 4 ? "/train?model=fz&epochs=1" : "/train";
    int st = harness_request(h, "POST", path, ct, data + 1, size - 1, reply, sizeof(reply));
    harness_check(st, reply);
    if (st == 202) {
        /* an accepted job: cancel it so the queue stays free for the next inputs */
        const char *id = strstr(reply, "{\"id\":\"");
        if (id != NULL && strlen(id) > 40) {
            char p[80];
            snprintf(p, sizeof(p), "/jobs/%.32s/cancel", id + 7);
            harness_request(h, "POST", p, "application/json", NULL, 0, reply, sizeof(reply));
        }
    }
    return 0;
}
