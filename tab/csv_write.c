/*
 * csv_write: the writing half of the csv module (csv.h) — one field at a time, quoted only
 * when RFC 4180 needs it, so what the reader reads the writer writes back unchanged.
 */
#include <string.h>

#include "tab/csv.h"

int tab_csv_write_field(FILE *out, const char *s, size_t len, char delim)
{
    size_t i;
    int quote = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == delim || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            quote = 1;
            break;
        }
    }
    if (!quote) {
        return fwrite(s, 1, len, out) == len ? 0 : -1;
    }
    if (fputc('"', out) == EOF) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '"' && fputc('"', out) == EOF) {
            return -1;
        }
        if (fputc(s[i], out) == EOF) {
            return -1;
        }
    }
    return fputc('"', out) == EOF ? -1 : 0;
}
