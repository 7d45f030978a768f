/*
 * mail.c: e-mail to model text. GMime 3 does what is easy to get wrong in a mail parser
 * (header unfolding, RFC 2047 words, MIME boundaries, base64 / quoted-printable / uuencode,
 * charset aliases); this file walks the MIME tree, chooses the text parts, and gives the three
 * input forms one normalisation (subject on one line, then each body part). Charsets are
 * mail_charset.c's, HTML to text mail_html.c's, the bounded buffer mail_sbuf.c's.
 *
 * Every growing buffer has a hard limit; the input is bounded before GMime sees it, and GMime
 * itself stops nesting at 1024 levels. GMime and GLib allocate with g_malloc, which aborts on
 * out-of-memory; their allocations are bounded by the input limit. What we allocate goes
 * through nn/alloc.h and fails with NN_ENOMEM.
 */
#include "mail/mail.h"

#include <stdint.h>
#include <string.h>

#include <gmime/gmime.h>

#include "mail/mail_charset.h"
#include "mail/mail_html.h"
#include "mail/mail_sbuf.h"

/* ------------------------------------------------------------------------------------------ */
/* Subject and body normalisation shared by the three input forms                               */
/* ------------------------------------------------------------------------------------------ */

/* Appends the subject: clean UTF-8 on one line, white space runs made one space, trimmed. */
static int put_subject(const char *s, size_t n, struct mail_sbuf *o)
{
    struct mail_sbuf tmp;
    size_t i;
    int space = 0;
    int started = 0;
    int rc;

    mail_sb_init(&tmp, o->max);
    rc = mail_clean_text(s, n, MAIL_CONV_AUTO, &tmp);
    for (i = 0; rc == NN_OK && i < tmp.len; i++) {
        char c = tmp.p[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            space = 1;
            continue;
        }
        if (space && started) {
            rc = mail_sb_putc(o, ' ');
        }
        if (rc == NN_OK) {
            rc = mail_sb_putc(o, c);
        }
        space = 0;
        started = 1;
    }
    mail_sb_fini(&tmp);
    return rc;
}

/* Appends one body part (bytes in charset cs, NULL = unknown): clean, and HTML reduced. */
static int put_body(const char *s, size_t n, const char *cs, int is_html, unsigned flags,
                    struct mail_sbuf *o)
{
    struct mail_sbuf tmp;
    int rc;

    mail_sb_init(&tmp, n > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : n * 4 + 64);
    rc = mail_decode_charset(s, n, cs, &tmp);
    if (rc == NN_OK && tmp.len > 0) {
        if ((flags & MAIL_KEEP_HTML) == 0 && (is_html || mail_looks_html(tmp.p, tmp.len))) {
            rc = mail_html_reduce(tmp.p, tmp.len, o);
        } else {
            rc = mail_sb_put(o, tmp.p, tmp.len);
        }
    }
    mail_sb_fini(&tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Raw messages                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Walk state over the MIME tree. */
struct walk {
    struct mail_sbuf *o;
    const struct mail_limits *lim;
    size_t parts;   /* leaf parts seen */
    size_t written; /* text parts written */
};

static int walk_object(struct walk *w, GMimeObject *obj, int depth, struct nn_err *err);

static int walk_leaf(struct walk *w, GMimePart *part, struct nn_err *err)
{
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    GMimeDataWrapper *content;
    GMimeStream *mem;
    GByteArray *bytes;
    int is_html;
    int rc = NN_OK;

    w->parts++;
    if (w->parts > w->lim->max_parts) {
        return nn_err_set(err, NN_ERANGE, "message has more than %zu MIME parts",
                          w->lim->max_parts);
    }
    if (ct != NULL && !g_mime_content_type_is_type(ct, "text", "plain") &&
        !g_mime_content_type_is_type(ct, "text", "html")) {
        return NN_OK;
    }
    if (w->o->full) {
        return NN_OK; /* keep counting parts, skip the decoding */
    }
    is_html = ct != NULL && g_mime_content_type_is_type(ct, "text", "html");
    content = g_mime_part_get_content(part);
    if (w->written > 0) {
        rc = mail_sb_putc(w->o, '\n');
        if (rc != NN_OK) {
            return nn_err_set(err, rc, "out of memory decoding mail");
        }
    }
    w->written++;
    if (content == NULL) {
        return NN_OK;
    }
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (bytes != NULL && bytes->len > 0) {
        rc = put_body((const char *)bytes->data, bytes->len,
                      g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset"),
                      is_html, w->lim->flags, w->o);
    }
    g_object_unref(mem);
    if (rc != NN_OK) {
        return nn_err_set(err, rc, "out of memory decoding mail");
    }
    return NN_OK;
}

/* Visits obj and its children in order. GMime bounds the depth; we check it again. */
static int walk_object(struct walk *w, GMimeObject *obj, int depth, struct nn_err *err)
{
    int rc = NN_OK;

    if (obj == NULL || depth > 2048) {
        return NN_OK;
    }
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int count = g_mime_multipart_get_count(mp);
        int i;
        for (i = 0; i < count && rc == NN_OK; i++) {
            rc = walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1, err);
        }
        return rc;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        if (inner == NULL) {
            return NN_OK;
        }
        return walk_object(w, g_mime_message_get_mime_part(inner), depth + 1, err);
    }
    if (GMIME_IS_PART(obj)) {
        return walk_leaf(w, GMIME_PART(obj), err);
    }
    return NN_OK;
}

/*
 * Whether the text is valid UTF-8 whose characters are all below U+0100, some above U+007F:
 * a raw message whose 8-bit bytes were read as latin-1 and stored as UTF-8 (a CSV of raw mail,
 * a JSON string). Its bytes are then the latin-1 encoding of the text.
 */
static int latin1_view(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    int high = 0;

    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        if ((u[i] != 0xC2 && u[i] != 0xC3) || i + 1 >= n || (u[i + 1] & 0xC0) != 0x80) {
            return 0;
        }
        high = 1;
        i += 2;
    }
    return high;
}

/*
 * Copies the message with every CRLF or lone CR made LF and a leading mbox "From " line cut;
 * a latin-1 view (see latin1_view) is turned back into its bytes.
 */
static GByteArray *normalise_raw(const char *raw, size_t len)
{
    GByteArray *ba;
    size_t i = 0;
    size_t run;
    int l1 = latin1_view(raw, len);

    if (len >= 5 && memcmp(raw, "From ", 5) == 0) {
        while (i < len && raw[i] != '\n' && raw[i] != '\r') {
            i++;
        }
        if (i < len && raw[i] == '\r') {
            i++;
        }
        if (i < len && raw[i] == '\n') {
            i++;
        }
    }
    ba = g_byte_array_sized_new((guint)(len - i + 1));
    run = i;
    for (; i < len; i++) {
        if (l1 && ((unsigned char)raw[i] == 0xC2 || (unsigned char)raw[i] == 0xC3)) {
            guint8 byte = (guint8)((((unsigned char)raw[i] & 0x03) << 6) |
                                   ((unsigned char)raw[i + 1] & 0x3F));
            g_byte_array_append(ba, (const guint8 *)raw + run, (guint)(i - run));
            g_byte_array_append(ba, &byte, 1);
            i++;
            run = i + 1;
        } else if (raw[i] == '\r') {
            g_byte_array_append(ba, (const guint8 *)raw + run, (guint)(i - run));
            if (i + 1 >= len || raw[i + 1] != '\n') {
                g_byte_array_append(ba, (const guint8 *)"\n", 1);
            }
            run = i + 1;
        }
    }
    g_byte_array_append(ba, (const guint8 *)raw + run, (guint)(i - run));
    return ba;
}

/* Appends the prologue and epilogue of a multipart that has no parts, in its charset. */
static int put_multipart_text(GMimeMultipart *mp, const struct mail_limits *lim,
                              struct mail_sbuf *o)
{
    const char *texts[2];
    const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(mp), "charset");
    int i;
    int rc = NN_OK;

    texts[0] = g_mime_multipart_get_prologue(mp);
    texts[1] = g_mime_multipart_get_epilogue(mp);
    for (i = 0; i < 2 && rc == NN_OK; i++) {
        if (texts[i] != NULL && texts[i][0] != '\0') {
            rc = put_body(texts[i], strlen(texts[i]), cs, 0, lim->flags, o);
        }
    }
    return rc;
}

void mail_limits_init(struct mail_limits *lim)
{
    lim->max_input = MAIL_MAX_INPUT_DEFAULT;
    lim->max_parts = MAIL_MAX_PARTS_DEFAULT;
    lim->max_output = MAIL_MAX_OUTPUT_DEFAULT;
    lim->flags = 0;
}

int mail_global_init(void)
{
    mail_gmime_ready();
    return NN_OK;
}

/* Known header names: at least one must appear for a text to look like a raw message. */
static int known_header(const char *s, size_t n)
{
    static const char *const names[] = {
        "from",         "to",          "cc",          "subject",       "date",
        "received",     "return-path", "message-id",  "mime-version",  "content-type",
        "delivered-to", "reply-to",    "sender",      "x-mailer",      "in-reply-to",
        "references",   "x-sender",    "envelope-to", "x-original-to", "content-transfer-encoding"};
    size_t t;
    size_t j;

    for (t = 0; t < sizeof names / sizeof names[0]; t++) {
        if (strlen(names[t]) != n) {
            continue;
        }
        for (j = 0; j < n && mail_lower((unsigned char)s[j]) == names[t][j]; j++) {
        }
        if (j == n) {
            return 1;
        }
    }
    return 0;
}

int mail_looks_raw(const char *s, size_t len)
{
    size_t i = 0;
    size_t fields = 0;
    int known = 0;

    if (s == NULL) {
        return 0;
    }
    if (len >= 5 && memcmp(s, "From ", 5) == 0) {
        while (i < len && s[i] != '\n') {
            i++;
        }
        i++;
    }
    while (i < len) {
        size_t start = i;
        size_t eol = i;

        while (eol < len && s[eol] != '\n') {
            eol++;
        }
        if (eol == start || (eol == start + 1 && s[start] == '\r')) {
            break; /* the blank line that ends the header */
        }
        if (s[start] == ' ' || s[start] == '\t') {
            if (fields == 0) {
                return 0; /* a continuation with nothing to continue */
            }
        } else {
            size_t j = start;
            while (j < eol && s[j] > ' ' && s[j] < 0x7F && s[j] != ':') {
                j++;
            }
            if (j == start || j >= eol || s[j] != ':') {
                return 0;
            }
            fields++;
            known |= known_header(s + start, j - start);
        }
        i = eol + 1;
    }
    return fields >= 2 && known;
}

int mail_to_text(const char *raw, size_t len, const struct mail_limits *lim, char **out,
                 size_t *out_len, struct nn_err *err)
{
    struct mail_limits L;
    struct mail_sbuf o;
    struct walk w;
    GByteArray *ba = NULL;
    GMimeStream *stream = NULL;
    GMimeParser *parser = NULL;
    GMimeMessage *msg = NULL;
    GMimeObject *top;
    int rc;

    if (mail_out_start(out, out_len) != 0 || (raw == NULL && len > 0)) {
        return nn_err_set(err, NN_EINVAL, "mail_to_text: NULL argument");
    }
    mail_gmime_ready();
    mail_limits_init(&L);
    if (lim != NULL) {
        L.max_input = lim->max_input != 0 ? lim->max_input : L.max_input;
        L.max_parts = lim->max_parts != 0 ? lim->max_parts : L.max_parts;
        L.max_output = lim->max_output != 0 ? lim->max_output : L.max_output;
        L.flags = lim->flags;
    }
    if (len > L.max_input) {
        return nn_err_set(err, NN_ERANGE, "message of %zu bytes is over the limit of %zu", len,
                          L.max_input);
    }
    if (len > (size_t)G_MAXUINT - 1) {
        return nn_err_set(err, NN_ERANGE, "message of %zu bytes is too large", len);
    }
    mail_sb_init(&o, L.max_output);
    ba = normalise_raw(raw != NULL ? raw : "", len);
    stream = g_mime_stream_mem_new_with_byte_array(ba); /* the stream owns ba */
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(parser, NULL);
    if (msg == NULL) {
        /* nothing GMime could call a message: take all of it as a body */
        rc = mail_sb_put(&o, "\n\n", 2);
        if (rc == NN_OK) {
            rc = put_body((const char *)ba->data, ba->len, NULL, 0, L.flags, &o);
        }
        if (rc != NN_OK) {
            nn_err_set(err, rc, "out of memory decoding mail");
            goto fail;
        }
    } else {
        GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
        GMimeHeader *hs = hl != NULL ? g_mime_header_list_get_header(hl, "Subject") : NULL;
        const char *subject = hs != NULL ? g_mime_header_get_value(hs) : NULL;

        rc = subject != NULL ? put_subject(subject, strlen(subject), &o) : NN_OK;
        if (rc == NN_OK) {
            rc = mail_sb_put(&o, "\n\n", 2);
        }
        if (rc != NN_OK) {
            nn_err_set(err, rc, "out of memory decoding mail");
            goto fail;
        }
        w.o = &o;
        w.lim = &L;
        w.parts = 0;
        w.written = 0;
        top = g_mime_message_get_mime_part(msg);
        rc = walk_object(&w, top, 0, err);
        if (rc != NN_OK) {
            goto fail;
        }
        if (w.parts == 0 && top != NULL && GMIME_IS_MULTIPART(top)) {
            /* a multipart whose boundary never matched: its text is all in the prologue */
            rc = put_multipart_text(GMIME_MULTIPART(top), &L, &o);
            if (rc != NN_OK) {
                nn_err_set(err, rc, "out of memory decoding mail");
                goto fail;
            }
        }
    }
    rc = mail_sb_take(&o, out, out_len);
    if (rc != NN_OK) {
        nn_err_set(err, rc, "out of memory decoding mail");
        goto fail;
    }
fail:
    if (msg != NULL) {
        g_object_unref(msg);
    }
    if (parser != NULL) {
        g_object_unref(parser);
    }
    if (stream != NULL) {
        g_object_unref(stream);
    }
    mail_sb_fini(&o);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoded forms                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Builds "<subject>\n\n<body>" from the two halves, both normalised. */
static int build_pair(const char *subj, size_t slen, const char *body, size_t blen, char **out,
                      size_t *out_len, struct nn_err *err)
{
    struct mail_sbuf o;
    int rc;

    mail_sb_init(&o, MAIL_MAX_OUTPUT_DEFAULT);
    rc = put_subject(subj, slen, &o);
    if (rc == NN_OK) {
        rc = mail_sb_put(&o, "\n\n", 2);
    }
    if (rc == NN_OK && blen > 0) {
        rc = put_body(body, blen, NULL, 0, 0, &o);
    }
    return mail_sb_finish(&o, rc, out, out_len, "normalising mail text", err);
}

int mail_subject_body(const char *subject, const char *body, char **out, size_t *out_len,
                      struct nn_err *err)
{
    if (mail_out_start(out, out_len) != 0) {
        return nn_err_set(err, NN_EINVAL, "mail_subject_body: NULL argument");
    }
    if (subject == NULL) {
        subject = "";
    }
    if (body == NULL) {
        body = "";
    }
    return build_pair(subject, strlen(subject), body, strlen(body), out, out_len, err);
}

int mail_decoded_text(const char *text, size_t len, char **out, size_t *out_len, struct nn_err *err)
{
    size_t i;
    size_t split = len;
    size_t skip = 0;

    if (mail_out_start(out, out_len) != 0 || (text == NULL && len > 0)) {
        return nn_err_set(err, NN_EINVAL, "mail_decoded_text: NULL argument");
    }
    if (text == NULL) {
        text = "";
    }
    /* the first blank line ("\n\n", "\r\n\r\n" or "\n\r\n") ends the subject */
    for (i = 0; i < len; i++) {
        if (text[i] != '\n') {
            continue;
        }
        if (i + 1 < len && text[i + 1] == '\n') {
            split = i;
            skip = 2;
            break;
        }
        if (i + 2 < len && text[i + 1] == '\r' && text[i + 2] == '\n') {
            split = i;
            skip = 3;
            break;
        }
    }
    if (split == len) {
        return build_pair("", 0, text, len, out, out_len, err);
    }
    if (split > 0 && text[split - 1] == '\r') {
        split--;
        skip++;
    }
    return build_pair(text, split, text + split + skip, len - split - skip, out, out_len, err);
}

int mail_decode_cell(const char *cell, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!mail_looks_raw(cell, len)) {
        return NN_OK;
    }
    return mail_to_text(cell, len, NULL, out, out_len, NULL);
}
