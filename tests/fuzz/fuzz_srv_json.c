/*
 * fuzz_srv_json: libFuzzer target for JSON request parsing on every route that takes a JSON
 * body, through the real HTTP front of an in-process daemon (tests/fuzz/srv_harness.h).
 * The first input byte picks the route; the rest is the body, sent as application/json.
 * A model named `iris` is imported at start so predictions reach the model code.
 * Any 500, non-JSON error reply, crash, leak or sanitizer report is a bug.
 *   make build/fuzz/fuzz_srv_json && build/fuzz/fuzz_srv_json tests/fuzz/corpus_srv_json
 */
#include <stdint.h>

#include "tests/fuzz/srv_harness.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct harness *h;

static const struct {
    const char *method, *path;
} routes[] = {
    {"POST", "/predict"},
    {"POST", "/models/iris/predict"},
    {"POST", "/models/fz/import"},
    {"PUT", "/models/iris/serving"},
    {"POST", "/jobs/00000000000000000000000000000000/cancel"},
    {"POST", "/models/iris/import"},
    {"POST", "/spam-score"},
    {"POST", "/spam-score/batch"},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char reply[1 << 16];
    FILE *f = fopen("tests/fuzz/corpus_model_json/iris.json", "rb");
    static uint8_t model[1 << 20];
    size_t n = 0;

    (void)argc;
    (void)argv;
    h = harness_start();
    if (f != NULL) {
        n = fread(model, 1, sizeof(model), f);
        fclose(f);
    }
    int st = harness_request(h, "POST", "/models/iris/import", "application/json", model, n, reply,
                             sizeof(reply));
    if (st != 201) {
        fprintf(stderr, "fuzz_srv_json: importing iris gave %d (run from the repository root)\n",
                st);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[1 << 16];

    if (size < 1) {
        return 0;
    }
    unsigned pick = data[0] % N_ROUTES;
    int st = harness_request(h, routes[pick].method, routes[pick].path, "application/json",
                             data + 1, size - 1, reply, sizeof(reply));
    harness_check(st, reply);
    if (pick == 2 && st == 201) {
        /* keep the store small: drop what an import made */
        harness_request(h, "DELETE", "/models/fz", "application/json", NULL, 0, reply,
                        sizeof(reply));
    }
    return 0;
}
