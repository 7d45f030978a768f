/*
 * fuzz_mail: libFuzzer target for nn_mail (raw e-mail decoding, decoded-text normalisation,
 * HTML reduction, looks_raw). Every call must return NN_OK or a documented error, and every
 * text it returns must be clean UTF-8 within the output limit; ASan/UBSan catch the rest.
 * Build (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags gmime-3.0) \
 *     tests/fuzz/fuzz_mail.c mail/mail.c nn/alloc.c nn/err.c $(pkg-config --libs gmime-3.0) \
 *     -o build/fuzz_mail
 * Run: build/fuzz_mail -max_total_time=60 -max_len=65536 build/corpus tests/fuzz/corpus_mail
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"
#include "nn/alloc.h"
#include "nn/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s[0..n) is valid UTF-8 without NUL or C0 controls other than tab and newline. */
static void check_text(const char *s, size_t n, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    if (s == NULL || n > max || s[n] != '\0') {
        abort();
    }
    while (i < n) {
        size_t k;
        size_t j;
        if (u[i] < 0x80) {
            if ((u[i] < 0x20 && u[i] != '\t' && u[i] != '\n') || u[i] == 0x7F) {
                abort();
            }
            i++;
            continue;
        }
        k = u[i] >= 0xF0 ? 4 : u[i] >= 0xE0 ? 3 : 2;
        if (u[i] < 0xC2 || u[i] > 0xF4 || i + k > n) {
            abort();
        }
        for (j = 1; j < k; j++) {
            if ((u[i + j] & 0xC0) != 0x80) {
                abort();
            }
        }
        i += k;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct mail_limits lim;
    struct nn_err err;
    char *out = NULL;
    size_t n = 0;
    int rc;

    (void)mail_looks_raw(s, size);

    mail_limits_init(&lim);
    rc = mail_to_text(s, size, &lim, &out, &n, &err);
    if (rc == NN_OK) {
        check_text(out, n, lim.max_output);
        nn_free(out);
    } else if (rc != NN_ERANGE || out != NULL) {
        abort();
    }

    /* small limits: cuts and part-limit errors on short inputs */
    lim.max_parts = 3;
    lim.max_output = 64;
    lim.flags = size > 0 && (data[0] & 1) ? MAIL_KEEP_HTML : 0;
    rc = mail_to_text(s, size, &lim, &out, &n, &err);
    if (rc == NN_OK) {
        check_text(out, n, lim.max_output);
        nn_free(out);
    } else if (rc != NN_ERANGE || out != NULL) {
        abort();
    }

    rc = mail_decoded_text(s, size, &out, &n, &err);
    if (rc != NN_OK) {
        abort();
    }
    check_text(out, n, MAIL_MAX_OUTPUT_DEFAULT);
    nn_free(out);

    rc = mail_html_to_text(s, size, &out, &n, &err);
    if (rc != NN_OK) {
        abort();
    }
    check_text(out, n, (size_t)-1);
    nn_free(out);
    return 0;
}
