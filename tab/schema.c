/*
 * schema: one pass over the CSV records decides each column's type and the task.
 *
 * Per column we keep whether every non-empty cell is a number, the longest cell, and the
 * distinct values in a small open-addressing set that stops growing at its cap (64 for
 * inferred categoricals; a column that overflows it, or has a long value, is text). The label
 * keeps a bigger set plus a per-row id, so once the classes are sorted every row's class index
 * is a table look-up: the caller gets `labels` for a stratified split before any fitting.
 * Memory: O(columns x cap + rows) — the cells themselves are never kept.
 */
#include "tab/schema.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/train.h"

/* ------------------------------------------------------------------------------------------
 * A capped set of strings with ids in insertion order.
 */
struct strset {
    char **items;    /* n strings, id order */
    uint32_t *slots; /* cap entries: id + 1, 0 = empty */
    size_t n, cap, max;
    int overflow; /* more than max distinct values were seen */
};

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void strset_fini(struct strset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        nn_free(s->items[i]);
    }
    nn_free(s->items);
    nn_free(s->slots);
    memset(s, 0, sizeof(*s));
}

static int strset_grow(struct strset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    uint32_t *slots = nn_calloc(cap, sizeof(uint32_t));
    if (slots == NULL) {
        return NN_ENOMEM;
    }
    char **items = nn_reallocarray(s->items, cap / 2, sizeof(char *));
    if (items == NULL) {
        nn_free(slots);
        return NN_ENOMEM;
    }
    s->items = items;
    for (size_t i = 0; i < s->n; i++) {
        size_t h = fnv1a(items[i], strlen(items[i])) & (cap - 1);
        while (slots[h] != 0) {
            h = (h + 1) & (cap - 1);
        }
        slots[h] = (uint32_t)i + 1;
    }
    nn_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* Finds or adds s (a C string). @return 0 with *id, 1 when the set is full, or NN_ENOMEM. */
static int strset_add(struct strset *s, const char *str, uint32_t *id)
{
    if (s->overflow) {
        return 1;
    }
    size_t len = strlen(str);
    uint32_t h0 = fnv1a(str, len);
    if (s->cap != 0) {
        size_t h = h0 & (s->cap - 1);
        while (s->slots[h] != 0) {
            uint32_t k = s->slots[h] - 1;
            if (strcmp(s->items[k], str) == 0) {
                *id = k;
                return 0;
            }
            h = (h + 1) & (s->cap - 1);
        }
    }
    if (s->n >= s->max) {
        s->overflow = 1;
        return 1;
    }
    if ((s->n + 1) * 2 > s->cap && strset_grow(s) != 0) {
        return NN_ENOMEM;
    }
    char *copy = nn_strndup(str, len);
    if (copy == NULL) {
        return NN_ENOMEM;
    }
    size_t h = h0 & (s->cap - 1);
    while (s->slots[h] != 0) {
        h = (h + 1) & (s->cap - 1);
    }
    s->items[s->n] = copy;
    s->slots[h] = (uint32_t)s->n + 1;
    *id = (uint32_t)s->n;
    s->n++;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Helpers
 */
const char *tab_col_type_name(enum tab_col_type t)
{
    switch (t) {
    case TAB_COL_NUMERIC:
        return "numeric";
    case TAB_COL_CATEGORICAL:
        return "categorical";
    case TAB_COL_TEXT:
        return "text";
    case TAB_COL_IGNORED:
        return "ignored";
    }
    return "unknown";
}

double tab_schema_exact_decimal(uint64_t m, int frac, int negative)
{
    /* Clinger: an exact integer over an exact power of ten, one correctly rounded division */
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double d = (double)m / pow10[frac];

    return negative ? -d : d;
}

int tab_schema_parse_number(const char *s, double *v)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0') {
        return 0;
    }
    /* strtod also takes "nan", "inf" and hex: only plain decimals are numbers here */
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1]))) {
        return -1;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        return -1;
    }
    /* fast path: at most 15 digits and no exponent (tab_schema_exact_decimal) */
    uint64_t m = 0;
    int digits = 0, frac = -1;
    const char *q = p;
    for (; digits <= 15; q++) {
        if (*q >= '0' && *q <= '9') {
            m = m * 10 + (uint64_t)(*q - '0');
            digits++;
            if (frac >= 0) {
                frac++;
            }
        } else if (*q == '.' && frac < 0) {
            frac = 0;
        } else {
            break;
        }
    }
    const char *t = q;
    while (*t == ' ' || *t == '\t') {
        t++;
    }
    if (digits <= 15 && *t == '\0') {
        *v = tab_schema_exact_decimal(m, frac > 0 ? frac : 0, *s == '-');
        return 1;
    }
    char *end;
    double d = strtod(s, &end);
    while (*end == ' ' || *end == '\t') {
        end++;
    }
    if (*end != '\0' || !isfinite(d) || fabs(d) > FLT_MAX) {
        return -1;
    }
    *v = d;
    return 1;
}

/* Overrides: marks forced[i] = type for each column named in the comma-separated list. */
static int apply_list(struct tab_csv *r, const char *list, int type, int *forced, size_t label,
                      const char *what, struct nn_err *err)
{
    if (list == NULL) {
        return 0;
    }
    const char *p = list;
    char name[256];
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *a = p, *b = p + n;
        while (a < b && (*a == ' ' || *a == '\t')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
            b--;
        }
        p = e ? e + 1 : p + n;
        if (a == b) {
            continue;
        }
        size_t len = (size_t)(b - a);
        if (len >= sizeof(name)) {
            len = sizeof(name) - 1;
        }
        memcpy(name, a, len);
        name[len] = '\0';
        long c = tab_csv_find(r, name);
        if (c < 0) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, name, "%s: no column named '%s'", what,
                                 name);
        }
        if ((size_t)c == label) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, name, "%s: '%s' is the label column", what,
                                 name);
        }
        if (forced[c] >= 0 && forced[c] != type) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, name,
                                 "column '%s' is named in two override lists", name);
        }
        forced[c] = type;
    }
    return 0;
}

struct colstat {
    int numeric;    /* every non-empty cell so far is a number */
    int integer;    /* ... and an integer */
    size_t max_len; /* longest cell */
    struct strset set;
    long nonnum_line; /* first line with a non-numeric cell */
};

struct lab_sort {
    const char *s;
    double v;
    uint32_t id;
};

static int cmp_str(const void *a, const void *b)
{
    const struct lab_sort *x = a, *y = b;
    return strcmp(x->s, y->s);
}

static int cmp_num(const void *a, const void *b)
{
    const struct lab_sort *x = a, *y = b;
    if (x->v < y->v) {
        return -1;
    }
    if (x->v > y->v) {
        return 1;
    }
    return strcmp(x->s, y->s);
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tab_schema_free(struct tab_schema *s)
{
    if (s == NULL) {
        return;
    }
    if (s->cols != NULL) {
        for (size_t i = 0; i < s->n_cols; i++) {
            nn_free(s->cols[i].name);
            for (size_t k = 0; k < s->cols[i].n_categories; k++) {
                nn_free(s->cols[i].categories[k]);
            }
            nn_free(s->cols[i].categories);
        }
    }
    nn_free(s->cols);
    if (s->classes != NULL) {
        for (int k = 0; k < s->n_classes; k++) {
            nn_free(s->classes[k]);
        }
    }
    nn_free(s->classes);
    nn_free(s->labels);
    nn_free(s);
}

int tab_schema_class_index(const struct tab_schema *s, const char *text)
{
    for (int k = 0; k < s->n_classes; k++) {
        if (strcmp(s->classes[k], text) == 0) {
            return k;
        }
    }
    return -1;
}

/* Takes the set's strings as a sorted array (byte order). The set is left empty. */
static int take_sorted(struct strset *set, char ***out, size_t *n)
{
    char **a = NULL;
    if (set->n > 0) {
        a = nn_calloc(set->n, sizeof(char *));
        if (a == NULL) {
            return NN_ENOMEM;
        }
        memcpy(a, set->items, set->n * sizeof(char *));
        qsort(a, set->n, sizeof(char *), cmp_cstr);
    }
    *out = a;
    *n = set->n;
    set->n = 0; /* the strings moved */
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Inference
 */
int tab_schema_infer(struct tab_csv *r, const struct tab_schema_opts *o, struct tab_schema **out,
                     struct nn_err *err)
{
    struct tab_schema_opts defaults = {NULL, -1, NULL, NULL, NULL};
    struct tab_schema *s = NULL;
    struct colstat *st = NULL;
    int *forced = NULL;
    uint32_t *ids = NULL;
    float *vals = NULL;
    struct lab_sort *ls = NULL;
    size_t rows = 0, cap_rows = 0;
    size_t nc = tab_csv_ncols(r);
    int rc;
    *out = NULL;
    if (o == NULL) {
        o = &defaults;
    }
    if (o->task != -1 && o->task != NN_TASK_BINARY && o->task != NN_TASK_MULTICLASS &&
        o->task != NN_TASK_REGRESSION) {
        return nn_err_set(err, NN_EINVAL, "unknown task %d", o->task);
    }
    size_t label = nc - 1;
    if (o->label != NULL) {
        long c = tab_csv_find(r, o->label);
        if (c < 0) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, o->label, "label: no column named '%s'",
                                 o->label);
        }
        label = (size_t)c;
    }
    const char *lname = tab_csv_colname(r, label);
    forced = nn_malloc(nc * sizeof(int));
    st = nn_calloc(nc, sizeof(*st));
    s = nn_calloc(1, sizeof(*s));
    if (forced == NULL || st == NULL || s == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
        goto fail;
    }
    for (size_t i = 0; i < nc; i++) {
        forced[i] = -1;
        st[i].numeric = 1;
        st[i].integer = 1;
        st[i].set.max = TAB_SCHEMA_MAX_CATEGORIES;
    }
    rc = apply_list(r, o->text_columns, TAB_COL_TEXT, forced, label, "text_columns", err);
    if (rc == 0) {
        rc = apply_list(r, o->categorical_columns, TAB_COL_CATEGORICAL, forced, label,
                        "categorical_columns", err);
    }
    if (rc == 0) {
        rc =
            apply_list(r, o->ignore_columns, TAB_COL_IGNORED, forced, label, "ignore_columns", err);
    }
    if (rc != 0) {
        goto fail;
    }
    for (size_t i = 0; i < nc; i++) {
        if (forced[i] == TAB_COL_CATEGORICAL) {
            st[i].set.max = TAB_SCHEMA_MAX_FORCED_CATS;
        }
    }
    st[label].set.max = TAB_SCHEMA_MAX_CLASSES;

    /* the pass */
    while ((rc = tab_csv_next(r, err)) == 1) {
        if (rows == cap_rows) {
            size_t nc2 = cap_rows ? cap_rows * 2 : 1024;
            uint32_t *ni = nn_reallocarray(ids, nc2, sizeof(uint32_t));
            if (ni == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
                goto fail;
            }
            ids = ni;
            float *nv = nn_reallocarray(vals, nc2, sizeof(float));
            if (nv == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
                goto fail;
            }
            vals = nv;
            cap_rows = nc2;
        }
        for (size_t c = 0; c < nc; c++) {
            if (forced[c] == TAB_COL_IGNORED || forced[c] == TAB_COL_TEXT) {
                continue;
            }
            size_t len;
            const char *v = tab_csv_field(r, c, &len);
            struct colstat *cs = &st[c];
            double d = 0;
            int num = cs->numeric ? tab_schema_parse_number(v, &d) : -1;
            if (c == label && (len == 0 || num == 0)) {
                rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), (long)c + 1, lname,
                                   "line %ld: empty label cell in column '%.64s'", tab_csv_line(r),
                                   lname);
                goto fail;
            }
            if (len == 0) {
                continue;
            }
            if (len > cs->max_len) {
                cs->max_len = len;
            }
            if (cs->numeric) {
                int k = num;
                if (k < 0) {
                    cs->numeric = 0;
                    cs->nonnum_line = tab_csv_line(r);
                } else if (k == 0) {
                    d = NAN;
                } else if (d != floor(d) || fabs(d) > 9007199254740992.0) {
                    cs->integer = 0;
                }
            }
            uint32_t id = UINT32_MAX;
            int track = c == label || forced[c] == TAB_COL_CATEGORICAL ||
                        (!cs->set.overflow && len <= TAB_SCHEMA_MAX_CAT_LEN);
            if (track) {
                int k = strset_add(&cs->set, v, &id);
                if (k < 0) {
                    rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
                    goto fail;
                }
                if (k == 1 && forced[c] == TAB_COL_CATEGORICAL) {
                    rc = nn_err_set_at(err, NN_ERANGE, tab_csv_line(r), (long)c + 1,
                                       tab_csv_colname(r, c),
                                       "column '%.64s' has more than %d distinct values",
                                       tab_csv_colname(r, c), TAB_SCHEMA_MAX_FORCED_CATS);
                    goto fail;
                }
            } else if (len > TAB_SCHEMA_MAX_CAT_LEN) {
                cs->set.overflow = 1; /* too long for a category: stop tracking */
            }
            if (c == label) {
                ids[rows] = id;
                vals[rows] = cs->numeric ? (float)d : NAN;
            }
        }
        rows++;
    }
    if (rc < 0) {
        goto fail;
    }

    /* column types */
    s->n_cols = nc;
    s->label = label;
    s->rows = rows;
    s->cols = nn_calloc(nc, sizeof(struct tab_column));
    if (s->cols == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
        goto fail;
    }
    for (size_t c = 0; c < nc; c++) {
        struct tab_column *col = &s->cols[c];
        col->name = nn_strdup(tab_csv_colname(r, c));
        if (col->name == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
            goto fail;
        }
        if (c == label) {
            continue;
        }
        if (forced[c] >= 0) {
            col->type = (enum tab_col_type)forced[c];
        } else if (st[c].numeric) {
            col->type = TAB_COL_NUMERIC;
        } else if (!st[c].set.overflow && st[c].max_len <= TAB_SCHEMA_MAX_CAT_LEN) {
            col->type = TAB_COL_CATEGORICAL;
        } else {
            col->type = TAB_COL_TEXT;
        }
        if (col->type == TAB_COL_CATEGORICAL) {
            if (take_sorted(&st[c].set, &col->categories, &col->n_categories) != 0) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
                goto fail;
            }
        }
    }

    /* the task */
    struct colstat *lc = &st[label];
    int task = o->task;
    if (task == -1) {
        if (!lc->numeric) {
            task = NN_TASK_BINARY; /* classification; resolved below */
        } else if (lc->integer && !lc->set.overflow && lc->set.n <= TAB_SCHEMA_MAX_INT_CLASSES) {
            task = NN_TASK_BINARY;
        } else {
            task = NN_TASK_REGRESSION;
        }
    }
    if (task == NN_TASK_REGRESSION) {
        if (!lc->numeric) {
            rc = nn_err_set_at(err, NN_EINVAL, lc->nonnum_line, (long)label + 1, lname,
                               "line %ld: label '%.64s' is not a number (regression)",
                               lc->nonnum_line, lname);
            goto fail;
        }
        s->task = NN_TASK_REGRESSION;
        s->cols[label].type = TAB_COL_NUMERIC;
        s->labels = vals;
        vals = NULL;
    } else {
        if (lc->set.overflow) {
            rc = nn_err_set_at(err, NN_ERANGE, 0, (long)label + 1, lname,
                               "label '%.64s' has more than %d classes", lname,
                               TAB_SCHEMA_MAX_CLASSES);
            goto fail;
        }
        if (lc->set.n < 2) {
            rc = nn_err_set_at(err, NN_EINVAL, 0, (long)label + 1, lname,
                               "label '%.64s' has %zu class%s: classification needs two", lname,
                               lc->set.n, lc->set.n == 1 ? "" : "es");
            goto fail;
        }
        size_t k = lc->set.n;
        ls = nn_calloc(k, sizeof(*ls));
        s->classes = nn_calloc(k, sizeof(char *));
        if (ls == NULL || s->classes == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
            goto fail;
        }
        for (size_t i = 0; i < k; i++) {
            ls[i].s = lc->set.items[i];
            ls[i].id = (uint32_t)i;
            ls[i].v = 0;
            if (lc->numeric) {
                tab_schema_parse_number(ls[i].s, &ls[i].v);
            }
        }
        qsort(ls, k, sizeof(*ls), lc->numeric ? cmp_num : cmp_str);
        uint32_t *map = (uint32_t *)lc->set.slots; /* reuse: cap >= 2k */
        for (size_t i = 0; i < k; i++) {
            map[ls[i].id] = (uint32_t)i;
            s->classes[i] = lc->set.items[ls[i].id];
        }
        s->n_classes = (int)k;
        lc->set.n = 0; /* the strings moved to s->classes */
        for (size_t i = 0; i < rows; i++) {
            vals[i] = (float)map[ids[i]];
        }
        s->labels = vals;
        vals = NULL;
        s->task = k == 2 ? NN_TASK_BINARY : NN_TASK_MULTICLASS;
        s->cols[label].type = TAB_COL_CATEGORICAL;
    }
    if (s->labels == NULL) {
        s->labels = nn_malloc(sizeof(float)); /* no rows: keep a valid pointer */
        if (s->labels == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
            goto fail;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        strset_fini(&st[c].set);
    }
    nn_free(st);
    nn_free(forced);
    nn_free(ids);
    nn_free(ls);
    *out = s;
    return 0;
fail:
    if (st != NULL) {
        for (size_t c = 0; c < nc; c++) {
            strset_fini(&st[c].set);
        }
    }
    nn_free(st);
    nn_free(forced);
    nn_free(ids);
    nn_free(vals);
    nn_free(ls);
    tab_schema_free(s);
    return rc;
}
