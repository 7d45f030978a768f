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
#include <strings.h>

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
    nn_free_strv(s->items, s->n);
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
 * A set of 64-bit value hashes, to count distinct values (a collision of two values is
 * negligible at 2^-64 a pair). It stops growing at its limit: TAB_SCHEMA_MAX_DISTINCT, or 2^20
 * while no value has repeated (an identifier candidate).
 */
struct hset {
    uint64_t *slots; /* cap entries; 0 = empty */
    size_t n, cap;
    int dup;    /* a value was seen twice */
    int capped; /* stopped counting */
};

static uint64_t hash64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h != 0 ? h : 1;
}

static int hset_add(struct hset *s, uint64_t h)
{
    if (s->capped) {
        return 0;
    }
    if (s->cap != 0) {
        size_t i = h & (s->cap - 1);
        while (s->slots[i] != 0) {
            if (s->slots[i] == h) {
                s->dup = 1;
                return 0;
            }
            i = (i + 1) & (s->cap - 1);
        }
    }
    size_t limit = s->dup ? TAB_SCHEMA_MAX_DISTINCT : (size_t)1 << 20;
    if (s->n >= limit) {
        s->capped = 1;
        nn_free(s->slots);
        s->slots = NULL;
        s->cap = 0;
        return 0;
    }
    if ((s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint64_t *slots = nn_calloc(cap, sizeof(uint64_t));
        if (slots == NULL) {
            return NN_ENOMEM;
        }
        for (size_t k = 0; k < s->cap; k++) {
            if (s->slots[k] != 0) {
                size_t i = s->slots[k] & (cap - 1);
                while (slots[i] != 0) {
                    i = (i + 1) & (cap - 1);
                }
                slots[i] = s->slots[k];
            }
        }
        nn_free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t i = h & (s->cap - 1);
    while (s->slots[i] != 0) {
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = h;
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
    int numeric;    /* every non-missing cell so far is a number */
    int integer;    /* ... and an integer */
    size_t max_len; /* longest cell */
    struct strset set;
    long nonnum_line; /* first line with a non-numeric cell */
    size_t n_present; /* non-missing cells */
    size_t n_missing;
    size_t words;  /* whitespace-separated words of the string cells (identifier test) */
    double lo, hi; /* integers: the smallest and largest */
    struct hset distinct;
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
            nn_free_strv(s->cols[i].categories, s->cols[i].n_categories);
        }
    }
    nn_free(s->cols);
    nn_free_strv(s->classes, (size_t)s->n_classes);
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
 * Inference, in phases over one state: set-up (options, overrides), the pass over the rows,
 * the column types, the task.
 */
struct infer {
    struct tab_csv *r;
    const struct tab_schema_opts *o;
    const struct tab_na *na;
    size_t nc, label, rows, cap_rows;
    const char *lname;
    int *forced; /* per column: a forced type, or -1 */
    struct colstat *st;
    uint32_t *ids; /* label: the class id of each row */
    float *vals;   /* label: the value of each row */
    struct tab_schema *s;
};

static int oom(struct nn_err *err)
{
    return nn_err_set(err, NN_ENOMEM, "out of memory inferring the schema");
}

static int infer_setup(struct infer *in, struct nn_err *err)
{
    const struct tab_schema_opts *o = in->o;
    size_t nc = in->nc;
    int rc;

    if (o->task != -1 && o->task != NN_TASK_BINARY && o->task != NN_TASK_MULTICLASS &&
        o->task != NN_TASK_REGRESSION) {
        return nn_err_set(err, NN_EINVAL, "unknown task %d", o->task);
    }
    in->label = nc - 1;
    if (o->label != NULL) {
        long c = tab_csv_find(in->r, o->label);
        if (c < 0) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, o->label, "label: no column named '%s'",
                                 o->label);
        }
        in->label = (size_t)c;
    }
    in->lname = tab_csv_colname(in->r, in->label);
    in->forced = nn_malloc(nc * sizeof(int));
    in->st = nn_calloc(nc, sizeof(*in->st));
    in->s = nn_calloc(1, sizeof(*in->s));
    if (in->forced == NULL || in->st == NULL || in->s == NULL) {
        return oom(err);
    }
    in->s->na = *in->na;
    for (size_t i = 0; i < nc; i++) {
        in->forced[i] = -1;
        in->st[i].numeric = 1;
        in->st[i].integer = 1;
        in->st[i].set.max = TAB_SCHEMA_MAX_CATEGORIES;
        in->st[i].lo = INFINITY;
        in->st[i].hi = -INFINITY;
    }
    rc = apply_list(in->r, o->text_columns, TAB_COL_TEXT, in->forced, in->label, "text_columns",
                    err);
    if (rc == 0) {
        rc = apply_list(in->r, o->categorical_columns, TAB_COL_CATEGORICAL, in->forced, in->label,
                        "categorical_columns", err);
    }
    if (rc == 0) {
        rc = apply_list(in->r, o->ignore_columns, TAB_COL_IGNORED, in->forced, in->label,
                        "ignore_columns", err);
    }
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < nc; i++) {
        if (in->forced[i] == TAB_COL_CATEGORICAL) {
            in->st[i].set.max = TAB_SCHEMA_MAX_FORCED_CATS;
        }
    }
    in->st[in->label].set.max = TAB_SCHEMA_MAX_CLASSES;
    return 0;
}

static size_t count_words(const char *s, size_t len)
{
    size_t n = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int sp = s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r';
        n += !sp && !in_word;
        in_word = !sp;
    }
    return n;
}

/* Takes one cell of column c into its statistics (and the label's row arrays). */
static int observe(struct infer *in, size_t c, const char *v, size_t len, struct nn_err *err)
{
    struct tab_csv *r = in->r;
    struct colstat *cs = &in->st[c];

    if (len == 0 || tab_na_is(in->na, v)) {
        if (c == in->label) {
            return nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), (long)c + 1, in->lname,
                                 "line %ld: missing label cell ('%.32s') in column '%.64s'",
                                 tab_csv_line(r), v, in->lname);
        }
        cs->n_missing++;
        return 0;
    }
    cs->n_present++;
    if (len > cs->max_len) {
        cs->max_len = len;
    }
    double d = NAN;
    int num = cs->numeric ? tab_schema_parse_number(v, &d) : -1;
    if (num > 0) {
        double z = d == 0 ? 0 : d; /* -0 and 0 are one value */
        cs->words++;
        if (d != floor(d) || fabs(d) > 9007199254740992.0) {
            cs->integer = 0;
        } else {
            cs->lo = d < cs->lo ? d : cs->lo;
            cs->hi = d > cs->hi ? d : cs->hi;
        }
        if (hset_add(&cs->distinct, hash64(&z, sizeof(z))) != 0) {
            return oom(err);
        }
    } else {
        if (cs->numeric) {
            cs->numeric = 0;
            cs->nonnum_line = tab_csv_line(r);
        }
        cs->words += count_words(v, len);
        if (hset_add(&cs->distinct, hash64(v, len)) != 0) {
            return oom(err);
        }
    }
    if (in->forced[c] == TAB_COL_TEXT) {
        return 0;
    }
    uint32_t id = UINT32_MAX;
    int track = c == in->label || in->forced[c] == TAB_COL_CATEGORICAL ||
                (!cs->set.overflow && len <= TAB_SCHEMA_MAX_CAT_LEN);
    if (track) {
        int k = strset_add(&cs->set, v, &id);
        if (k < 0) {
            return oom(err);
        }
        if (k == 1 && in->forced[c] == TAB_COL_CATEGORICAL) {
            return nn_err_set_at(err, NN_ERANGE, tab_csv_line(r), (long)c + 1,
                                 tab_csv_colname(r, c),
                                 "column '%.64s' has more than %d distinct values",
                                 tab_csv_colname(r, c), TAB_SCHEMA_MAX_FORCED_CATS);
        }
    } else if (len > TAB_SCHEMA_MAX_CAT_LEN) {
        cs->set.overflow = 1; /* too long for a category: stop tracking */
    }
    if (c == in->label) {
        in->ids[in->rows] = id;
        in->vals[in->rows] = cs->numeric ? (float)d : NAN;
    }
    return 0;
}

static int infer_pass(struct infer *in, struct nn_err *err)
{
    int rc;

    while ((rc = tab_csv_next(in->r, err)) == 1) {
        if (in->rows == in->cap_rows) {
            size_t n = in->cap_rows ? in->cap_rows * 2 : 1024;
            uint32_t *ni = nn_reallocarray(in->ids, n, sizeof(uint32_t));
            if (ni == NULL) {
                return oom(err);
            }
            in->ids = ni;
            float *nv = nn_reallocarray(in->vals, n, sizeof(float));
            if (nv == NULL) {
                return oom(err);
            }
            in->vals = nv;
            in->cap_rows = n;
        }
        for (size_t c = 0; c < in->nc; c++) {
            if (in->forced[c] == TAB_COL_IGNORED) {
                continue;
            }
            size_t len;
            const char *v = tab_csv_field(in->r, c, &len);
            rc = observe(in, c, v, len, err);
            if (rc != 0) {
                return rc;
            }
        }
        in->rows++;
    }
    return rc < 0 ? rc : 0;
}

/* A name a row-id column goes by: "", "id", "index", "Unnamed: N" (pandas), "*_id". */
static int id_name(const char *name)
{
    size_t n = strlen(name);
    return n == 0 || strcasecmp(name, "id") == 0 || strcasecmp(name, "index") == 0 ||
           strncmp(name, "Unnamed:", 8) == 0 || (n > 3 && strcasecmp(name + n - 3, "_id") == 0);
}

/* Why a column that was not forced is ignored, or NULL when it is a feature. */
static const char *ignore_reason(const struct infer *in, size_t c)
{
    const struct colstat *cs = &in->st[c];
    if (cs->n_present == 0) {
        return "no value: every cell is missing";
    }
    if (cs->distinct.n == 1 && !cs->distinct.capped && cs->n_missing == 0) {
        return "constant: one value in every row";
    }
    if (cs->distinct.dup || cs->n_present < TAB_SCHEMA_ID_MIN_ROWS) {
        return NULL;
    }
    if (!cs->numeric && cs->words <= 2 * cs->n_present) {
        return "identifier: every value distinct (short strings)";
    }
    /* integers: named as an id (any values: a split of a file keeps some), or consecutive
       in the first column */
    if (cs->numeric && cs->integer &&
        (id_name(tab_csv_colname(in->r, c)) ||
         (c == 0 && cs->hi - cs->lo + 1 == (double)cs->n_present))) {
        return "identifier: every value distinct (a row id)";
    }
    return NULL;
}

static int infer_types(struct infer *in, struct nn_err *err)
{
    static const char *const forced_reason[] = {"", "named in categorical_columns",
                                                "named in text_columns", "named in ignore_columns"};
    struct tab_schema *s = in->s;

    s->n_cols = in->nc;
    s->label = in->label;
    s->rows = in->rows;
    s->cols = nn_calloc(in->nc, sizeof(struct tab_column));
    if (s->cols == NULL) {
        return oom(err);
    }
    for (size_t c = 0; c < in->nc; c++) {
        struct tab_column *col = &s->cols[c];
        struct colstat *cs = &in->st[c];
        col->name = nn_strdup(tab_csv_colname(in->r, c));
        if (col->name == NULL) {
            return oom(err);
        }
        col->n_missing = cs->n_missing;
        col->n_distinct = cs->distinct.n;
        col->distinct_capped = cs->distinct.capped;
        const char *why = NULL;
        if (c == in->label) {
            col->reason = "label";
            continue;
        }
        if (in->forced[c] >= 0) {
            col->type = (enum tab_col_type)in->forced[c];
            col->reason = forced_reason[in->forced[c]];
        } else if ((why = ignore_reason(in, c)) != NULL) {
            col->type = TAB_COL_IGNORED;
            col->reason = why;
        } else if (cs->numeric) {
            col->type = TAB_COL_NUMERIC;
            col->reason = "every value is a number";
        } else if (!cs->set.overflow && cs->max_len <= TAB_SCHEMA_MAX_CAT_LEN) {
            col->type = TAB_COL_CATEGORICAL;
            col->reason = "few distinct short strings";
        } else {
            col->type = TAB_COL_TEXT;
            col->reason = "strings too long or too many for categories";
        }
        if (col->type == TAB_COL_CATEGORICAL &&
            take_sorted(&cs->set, &col->categories, &col->n_categories) != 0) {
            return oom(err);
        }
    }
    return 0;
}

/* The label's classes, sorted, and every row's class index (s->labels). */
static int infer_classes(struct infer *in, struct nn_err *err)
{
    struct tab_schema *s = in->s;
    struct colstat *lc = &in->st[in->label];
    size_t k = lc->set.n;
    struct lab_sort *ls = nn_calloc(k, sizeof(*ls));

    s->classes = nn_calloc(k, sizeof(char *));
    if (ls == NULL || s->classes == NULL) {
        nn_free(ls);
        return oom(err);
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
    for (size_t i = 0; i < in->rows; i++) {
        in->vals[i] = (float)map[in->ids[i]];
    }
    nn_free(ls);
    return 0;
}

static int infer_task(struct infer *in, struct nn_err *err)
{
    struct tab_schema *s = in->s;
    struct colstat *lc = &in->st[in->label];
    const char *lname = in->lname;
    long lcol = (long)in->label + 1;
    int task = in->o->task;
    int rc;

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
            return nn_err_set_at(err, NN_EINVAL, lc->nonnum_line, lcol, lname,
                                 "line %ld: label '%.64s' is not a number (regression)",
                                 lc->nonnum_line, lname);
        }
        s->task = NN_TASK_REGRESSION;
        s->cols[in->label].type = TAB_COL_NUMERIC;
    } else {
        if (lc->set.overflow) {
            return nn_err_set_at(err, NN_ERANGE, 0, lcol, lname,
                                 "label '%.64s' has more than %d classes", lname,
                                 TAB_SCHEMA_MAX_CLASSES);
        }
        if (lc->set.n < 2) {
            return nn_err_set_at(err, NN_EINVAL, 0, lcol, lname,
                                 "label '%.64s' has %zu class%s: classification needs two", lname,
                                 lc->set.n, lc->set.n == 1 ? "" : "es");
        }
        rc = infer_classes(in, err);
        if (rc != 0) {
            return rc;
        }
        s->task = s->n_classes == 2 ? NN_TASK_BINARY : NN_TASK_MULTICLASS;
        s->cols[in->label].type = TAB_COL_CATEGORICAL;
    }
    s->labels = in->vals;
    in->vals = NULL;
    if (s->labels == NULL) {
        s->labels = nn_malloc(sizeof(float)); /* no rows: keep a valid pointer */
        if (s->labels == NULL) {
            return oom(err);
        }
    }
    return 0;
}

static void infer_fini(struct infer *in)
{
    if (in->st != NULL) {
        for (size_t c = 0; c < in->nc; c++) {
            strset_fini(&in->st[c].set);
            nn_free(in->st[c].distinct.slots);
        }
    }
    nn_free(in->st);
    nn_free(in->forced);
    nn_free(in->ids);
    nn_free(in->vals);
    tab_schema_free(in->s);
}

int tab_schema_infer(struct tab_csv *r, const struct tab_schema_opts *o, struct tab_schema **out,
                     struct nn_err *err)
{
    static const struct tab_schema_opts defaults = {NULL, -1, NULL, NULL, NULL, NULL};
    struct infer in;
    int rc;

    *out = NULL;
    memset(&in, 0, sizeof(in));
    in.r = r;
    in.o = o != NULL ? o : &defaults;
    in.na = in.o->na != NULL ? in.o->na : tab_na_default();
    in.nc = tab_csv_ncols(r);
    rc = infer_setup(&in, err);
    if (rc == 0) {
        rc = infer_pass(&in, err);
    }
    if (rc == 0) {
        rc = infer_types(&in, err);
    }
    if (rc == 0) {
        rc = infer_task(&in, err);
    }
    if (rc == 0) {
        *out = in.s;
        in.s = NULL;
    }
    infer_fini(&in);
    return rc;
}
