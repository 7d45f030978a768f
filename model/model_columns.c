/*
 * model_columns: what the schema made of every CSV column at training — type, missing and
 * distinct counts, and the reason — kept in the model for its card (`columns`), the dashboard
 * and `neurond inspect`, so a user sees what the network was given and what was left out.
 */
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"

#define MAX_COLUMNS 100000u
#define MAX_TEXT    4096

void model_columns_free(struct model *m)
{
    for (size_t i = 0; i < m->n_columns; i++) {
        nn_free(m->columns[i].name);
        nn_free(m->columns[i].reason);
    }
    nn_free(m->columns);
    m->columns = NULL;
    m->n_columns = 0;
}

int model_columns_keep(struct model *m, const struct tab_schema *s)
{
    m->columns = nn_calloc(s->n_cols ? s->n_cols : 1, sizeof(*m->columns));
    if (m->columns == NULL) {
        return NN_ENOMEM;
    }
    for (size_t i = 0; i < s->n_cols; i++) {
        const struct tab_column *c = &s->cols[i];
        struct model_column *mc = &m->columns[i];
        mc->name = nn_strdup(c->name);
        mc->reason = nn_strdup(c->reason != NULL ? c->reason : "");
        m->n_columns = i + 1;
        if (mc->name == NULL || mc->reason == NULL) {
            return NN_ENOMEM;
        }
        mc->type = i == s->label ? MODEL_COLUMN_LABEL : (int)c->type;
        mc->n_missing = c->n_missing;
        mc->n_distinct = c->n_distinct;
        mc->distinct_capped = c->distinct_capped;
    }
    return 0;
}

cJSON *model_columns_json(const struct model *m)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < m->n_columns; i++) {
        const struct model_column *mc = &m->columns[i];
        cJSON *o = cJSON_CreateObject();
        a = model_json_push(a, o);
        if (a == NULL) {
            return NULL;
        }
        cJSON_AddStringToObject(o, "name", mc->name);
        cJSON_AddStringToObject(o, "type",
                                mc->type == MODEL_COLUMN_LABEL
                                    ? "label"
                                    : tab_col_type_name((enum tab_col_type)mc->type));
        cJSON_AddNumberToObject(o, "missing", (double)mc->n_missing);
        cJSON_AddNumberToObject(o, "distinct", (double)mc->n_distinct);
        if (mc->distinct_capped) {
            cJSON_AddTrueToObject(o, "distinct_at_least");
        }
        cJSON_AddStringToObject(o, "reason", mc->reason);
    }
    return a;
}

void model_columns_put(struct tab_buf *b, const struct model *m)
{
    tab_buf_put_u32(b, (uint32_t)m->n_columns);
    for (size_t i = 0; i < m->n_columns; i++) {
        const struct model_column *mc = &m->columns[i];
        tab_buf_put_str(b, mc->name);
        tab_buf_put_u8(b, (uint8_t)mc->type);
        tab_buf_put_u64(b, mc->n_missing);
        tab_buf_put_u64(b, mc->n_distinct);
        tab_buf_put_u8(b, (uint8_t)(mc->distinct_capped != 0));
        tab_buf_put_str(b, mc->reason);
    }
}

int model_columns_get(struct tab_rd *rd, struct model *m, struct nn_err *err)
{
    uint32_t n;
    int rc = tab_rd_u32(rd, &n, "column count", err);

    if (rc != 0) {
        return rc;
    }
    /* each column takes at least 4 + 1 + 8 + 8 + 1 + 4 bytes */
    if (n > MAX_COLUMNS || tab_rd_need(rd, n, 26, "columns", err) != 0) {
        return nn_err_set(err, NN_EFORMAT, "model blob: bad column count %u", n);
    }
    m->columns = nn_calloc(n ? n : 1, sizeof(*m->columns));
    if (m->columns == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        struct model_column *mc = &m->columns[i];
        uint8_t type, capped;
        uint64_t miss, dist;
        m->n_columns = i + 1;
        if (tab_rd_str(rd, &mc->name, MAX_TEXT, "column name", err) != 0 ||
            tab_rd_u8(rd, &type, "column type", err) != 0 ||
            tab_rd_u64(rd, &miss, "column missing", err) != 0 ||
            tab_rd_u64(rd, &dist, "column distinct", err) != 0 ||
            tab_rd_u8(rd, &capped, "column distinct capped", err) != 0 ||
            tab_rd_str(rd, &mc->reason, MAX_TEXT, "column reason", err) != 0) {
            return NN_EFORMAT;
        }
        if (type > MODEL_COLUMN_LABEL || capped > 1) {
            return nn_err_set(err, NN_EFORMAT, "model blob: column %u: bad type", i);
        }
        mc->type = type;
        mc->n_missing = (size_t)miss;
        mc->n_distinct = (size_t)dist;
        mc->distinct_capped = capped;
    }
    return 0;
}
