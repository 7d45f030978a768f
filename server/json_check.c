/*
 * json_check: see json_check.h. A cursor over the bytes that keeps, for each of the first
 * PATH_LEVELS open containers, whether it is an object, the raw text of the current key (an
 * offset and a length into the body, nothing copied) and the current array index, so a fault
 * can be named by its path. Deeper levels are checked the same and named "...".
 */
#include "json_check.h"

#include <stdio.h>
#include <string.h>

#define PATH_LEVELS 16

struct level {
    int is_obj;
    int expect_key;          /* an object: the next string is a key */
    size_t key_off, key_len; /* an object: the current member's key, between its quotes */
    long index;              /* an array: the current element */
};

struct scan {
    const char *text;
    size_t len;
    long depth; /* open containers; only the first PATH_LEVELS are kept */
    struct level lv[PATH_LEVELS];
};

/* The offset of the quote that ends the string whose contents start at from (or len). */
static size_t string_end(const struct scan *s, size_t from)
{
    size_t j = from;

    while (j < s->len && s->text[j] != '"') {
        j += s->text[j] == '\\' ? 2 : 1;
    }
    return j < s->len ? j : s->len;
}

/* Writes the path of the innermost string ("instances[0].species") into out. */
static void path_of(const struct scan *s, char *out, size_t cap)
{
    long top = s->depth < PATH_LEVELS ? s->depth : PATH_LEVELS;
    size_t n = 0;

    out[0] = '\0';
    for (long l = 0; l < top; l++) {
        const struct level *v = &s->lv[l];
        int w = v->is_obj ? snprintf(out + n, cap - n, "%s%.*s", n > 0 ? "." : "", (int)v->key_len,
                                     s->text + v->key_off)
                          : snprintf(out + n, cap - n, "[%ld]", v->index);
        if (w < 0 || (size_t)w >= cap - n) {
            return; /* truncated: what fits names it well enough */
        }
        n += (size_t)w;
    }
    if (s->depth > PATH_LEVELS) {
        snprintf(out + n, cap - n, "...");
    }
}

/* Fills err for a fault at byte off, in a string (is_key: a key) or outside any (in_str 0). */
static int fault(struct scan *s, struct nn_err *err, int code, size_t off, int in_str, int is_key)
{
    char path[sizeof(err->field)];
    unsigned char c = (unsigned char)s->text[off];

    if (is_key && s->depth > 0 && s->depth <= PATH_LEVELS) {
        struct level *v = &s->lv[s->depth - 1];
        v->key_len = string_end(s, v->key_off) - v->key_off;
    }
    path_of(s, path, sizeof(path));
    if (code == NN_EINVAL && path[0] != '\0') {
        return nn_err_set_at(err, code, 0, (long)off + 1, path,
                             "\"%s\" holds a NUL character (\\u0000)", path);
    }
    if (code == NN_EINVAL) {
        return nn_err_set_at(err, code, 0, (long)off + 1, path,
                             "the body holds a NUL character (\\u0000)");
    }
    if (in_str) {
        return nn_err_set_at(err, code, 0, (long)off + 1, path,
                             "a raw control character (0x%02x) inside a string (escape it: "
                             "\\u%04x)",
                             c, c);
    }
    return nn_err_set_at(err, code, 0, (long)off + 1, path,
                         "a control character (0x%02x) outside a string", c);
}

/* Reads the string whose opening quote is at *i; leaves *i at its closing quote. */
static int check_string(struct scan *s, size_t *i, struct nn_err *err)
{
    struct level *v = s->depth > 0 && s->depth <= PATH_LEVELS ? &s->lv[s->depth - 1] : NULL;
    int is_key = v != NULL && v->is_obj && v->expect_key;
    size_t j = *i + 1;

    if (is_key) {
        v->key_off = j;
        v->key_len = 0;
    }
    for (; j < s->len && s->text[j] != '"'; j++) {
        if ((unsigned char)s->text[j] < 0x20) {
            return fault(s, err, NN_EFORMAT, j, 1, is_key);
        }
        if (s->text[j] != '\\') {
            continue;
        }
        if (j + 5 < s->len && memcmp(s->text + j + 1, "u0000", 5) == 0) {
            return fault(s, err, NN_EINVAL, j, 1, is_key);
        }
        j++; /* the escaped character; a raw control one is refused like any other */
        if (j < s->len && (unsigned char)s->text[j] < 0x20) {
            return fault(s, err, NN_EFORMAT, j, 1, is_key);
        }
    }
    if (is_key) {
        v->key_len = (j < s->len ? j : s->len) - v->key_off;
    }
    *i = j;
    return 0;
}

int srv_json_check_text(const char *text, size_t len, struct nn_err *err)
{
    struct scan s;

    s.text = text;
    s.len = len;
    s.depth = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        struct level *v = s.depth > 0 && s.depth <= PATH_LEVELS ? &s.lv[s.depth - 1] : NULL;
        if (c == '"') {
            int rc = check_string(&s, &i, err);
            if (rc != 0) {
                return rc;
            }
        } else if (c == '{' || c == '[') {
            if (s.depth < PATH_LEVELS) {
                s.lv[s.depth] = (struct level){c == '{', c == '{', 0, 0, 0};
            }
            s.depth++;
        } else if ((c == '}' || c == ']') && s.depth > 0) {
            s.depth--;
        } else if (c == ',' && v != NULL) {
            v->expect_key = v->is_obj;
            v->index += !v->is_obj;
        } else if (c == ':' && v != NULL) {
            v->expect_key = 0;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return fault(&s, err, NN_EFORMAT, i, 0, 0);
        }
    }
    return 0;
}
