/*
 * json_count: one pass over a JSON text with a small stack of open containers (json_count.h).
 * A value starts at '{', '[', a string that is not a key, or the first byte of a scalar; its
 * parent is the container on top of the stack. Only the top-level object's keys are kept
 * (to know when the parent is the "inputs" or "layers" array); deeper than the stack, values
 * are still counted.
 */
#include "json_count.h"

#include <string.h>

#define STACK_MAX 64

enum top_key { KEY_OTHER, KEY_INPUTS, KEY_LAYERS, KEY_ENSEMBLE };

struct scan {
    char kind[STACK_MAX]; /* '{' or '[' of each open container */
    size_t depth;         /* open containers (may pass STACK_MAX) */
    int expect_key;       /* in an object, before its next key */
    enum top_key key;     /* the top-level member being read */
};

/* Records one value starting here; number: it is a number. */
static void value(struct scan *s, struct srv_json_counts *c, int number)
{
    c->values++;
    if (s->depth == 2 && s->kind[1] == '[') {
        c->inputs += s->key == KEY_INPUTS;
        c->layers += s->key == KEY_LAYERS;
    }
    /* an ensemble's other networks hold their layers inside "ensemble" */
    if (number && s->depth >= 2 && (s->key == KEY_LAYERS || s->key == KEY_ENSEMBLE)) {
        c->numbers++;
    }
}

void srv_json_count(const char *text, size_t len, struct srv_json_counts *out)
{
    struct scan s = {{0}, 0, 0, KEY_OTHER};
    size_t i = 0;

    memset(out, 0, sizeof(*out));
    while (i < len) {
        char ch = text[i];
        if (ch == '"') {
            size_t start = ++i;
            while (i < len && text[i] != '"') {
                i += text[i] == '\\' ? 2 : 1;
            }
            size_t n = (i < len ? i : len) - start;
            i++;
            if (s.expect_key) {
                s.expect_key = 0;
                if (s.depth == 1) {
                    s.key = n == 6 && memcmp(text + start, "inputs", 6) == 0     ? KEY_INPUTS
                            : n == 6 && memcmp(text + start, "layers", 6) == 0   ? KEY_LAYERS
                            : n == 8 && memcmp(text + start, "ensemble", 8) == 0 ? KEY_ENSEMBLE
                                                                                 : KEY_OTHER;
                }
            } else {
                value(&s, out, 0);
            }
            continue;
        }
        if (ch == '{' || ch == '[') {
            value(&s, out, 0);
            if (s.depth < STACK_MAX) {
                s.kind[s.depth] = ch;
            }
            s.depth++;
            s.expect_key = ch == '{';
        } else if (ch == '}' || ch == ']') {
            s.depth -= s.depth > 0;
            s.expect_key = 0;
        } else if (ch == ',') {
            s.expect_key = s.depth >= 1 && s.depth <= STACK_MAX && s.kind[s.depth - 1] == '{';
        } else if (ch == '-' || (ch >= '0' && ch <= '9') || ch == 't' || ch == 'f' || ch == 'n') {
            value(&s, out, ch == '-' || (ch >= '0' && ch <= '9'));
            while (i + 1 < len && strchr("0123456789+-.eEtruefalsn", text[i + 1]) != NULL &&
                   text[i + 1] != '\0') {
                i++;
            }
        }
        i++;
    }
}
