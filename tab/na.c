/*
 * na: the missing-value markers. A list is a fixed array with a bitmap of first bytes, so the
 * common case (a number or a word whose first byte starts no marker) costs one bit test.
 */
#include "tab/na.h"

#include <string.h>

static void na_add(struct tab_na *na, const char *s, size_t len)
{
    for (int i = 0; i < na->n; i++) {
        if (strlen(na->items[i]) == len && memcmp(na->items[i], s, len) == 0) {
            return;
        }
    }
    memcpy(na->items[na->n], s, len);
    na->items[na->n][len] = '\0';
    na->first[(unsigned char)s[0] >> 3] |= (unsigned char)(1u << ((unsigned char)s[0] & 7));
    na->n++;
}

/* pandas' default markers and '?'; `first` is their first bytes' bitmap (a unit test checks
   it against tab_na_parse of the same list) */
static const struct tab_na na_default = {
    19,
    {"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
     "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", "?"},
    {0x00, 0x00, 0x00, 0x00, 0x08, 0x20, 0x02, 0x90, 0x00, 0x40, 0x00,
     0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
};

const struct tab_na *tab_na_default(void)
{
    return &na_default;
}

int tab_na_parse(const char *spec, struct tab_na *out, struct nn_err *err)
{
    struct tab_na na;

    if (spec == NULL) {
        *out = *tab_na_default();
        return 0;
    }
    memset(&na, 0, sizeof(na));
    const char *p = spec;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        const char *a = p, *b = e != NULL ? e : p + strlen(p);
        p = e != NULL ? e + 1 : b;
        while (a < b && (*a == ' ' || *a == '\t')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
            b--;
        }
        if (a == b) {
            continue;
        }
        size_t len = (size_t)(b - a);
        if (len > TAB_NA_MAX_LEN) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, "na_values",
                                 "na_values: a marker is longer than %d bytes", TAB_NA_MAX_LEN);
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f) {
                return nn_err_set_at(err, NN_EINVAL, 0, 0, "na_values",
                                     "na_values: a marker holds a control byte");
            }
        }
        if (na.n == TAB_NA_MAX) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, "na_values",
                                 "na_values: more than %d markers", TAB_NA_MAX);
        }
        na_add(&na, a, len);
    }
    *out = na;
    return 0;
}

void tab_na_spec(const struct tab_na *na, char *buf, size_t len)
{
    size_t o = 0;

    if (len == 0) {
        return;
    }
    buf[0] = '\0';
    for (int i = 0; i < na->n; i++) {
        size_t n = strlen(na->items[i]);
        if (o + n + 2 > len) {
            break;
        }
        if (i > 0) {
            buf[o++] = ',';
        }
        memcpy(buf + o, na->items[i], n);
        o += n;
        buf[o] = '\0';
    }
}

int tab_na_is(const struct tab_na *na, const char *cell)
{
    if (cell == NULL) {
        return 1;
    }
    while (*cell == ' ' || *cell == '\t') {
        cell++;
    }
    if (*cell == '\0') {
        return 1;
    }
    if (na == NULL) {
        na = tab_na_default();
    }
    unsigned char c = (unsigned char)*cell;
    if (!(na->first[c >> 3] & (1u << (c & 7)))) {
        return 0;
    }
    size_t len = strlen(cell);
    while (len > 0 && (cell[len - 1] == ' ' || cell[len - 1] == '\t')) {
        len--;
    }
    for (int i = 0; i < na->n; i++) {
        if (strncmp(na->items[i], cell, len) == 0 && na->items[i][len] == '\0') {
            return 1;
        }
    }
    return 0;
}
