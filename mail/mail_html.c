/*
 * mail_html: HTML to text (see mail_html.h): the entity table, the scanner's output state
 * (pending white space), tags and their layout, and the public mail_html_to_text.
 */
#include "mail/mail_html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail.h"
#include "mail/mail_charset.h"

struct entity {
    const char *name;
    uint16_t cp;
};

/* The HTML 4 entities, sorted by name (strcmp) for bsearch. */
static const struct entity entities[] = {
    {"AElig", 198},   {"Aacute", 193},  {"Acirc", 194},   {"Agrave", 192},  {"Alpha", 913},
    {"Aring", 197},   {"Atilde", 195},  {"Auml", 196},    {"Beta", 914},    {"Ccedil", 199},
    {"Chi", 935},     {"Dagger", 8225}, {"Delta", 916},   {"ETH", 208},     {"Eacute", 201},
    {"Ecirc", 202},   {"Egrave", 200},  {"Epsilon", 917}, {"Eta", 919},     {"Euml", 203},
    {"Gamma", 915},   {"Iacute", 205},  {"Icirc", 206},   {"Igrave", 204},  {"Iota", 921},
    {"Iuml", 207},    {"Kappa", 922},   {"Lambda", 923},  {"Mu", 924},      {"Ntilde", 209},
    {"Nu", 925},      {"OElig", 338},   {"Oacute", 211},  {"Ocirc", 212},   {"Ograve", 210},
    {"Omega", 937},   {"Omicron", 927}, {"Oslash", 216},  {"Otilde", 213},  {"Ouml", 214},
    {"Phi", 934},     {"Pi", 928},      {"Prime", 8243},  {"Psi", 936},     {"Rho", 929},
    {"Scaron", 352},  {"Sigma", 931},   {"THORN", 222},   {"Tau", 932},     {"Theta", 920},
    {"Uacute", 218},  {"Ucirc", 219},   {"Ugrave", 217},  {"Upsilon", 933}, {"Uuml", 220},
    {"Xi", 926},      {"Yacute", 221},  {"Yuml", 376},    {"Zeta", 918},    {"aacute", 225},
    {"acirc", 226},   {"acute", 180},   {"aelig", 230},   {"agrave", 224},  {"alpha", 945},
    {"amp", 38},      {"apos", 39},     {"aring", 229},   {"atilde", 227},  {"auml", 228},
    {"bdquo", 8222},  {"beta", 946},    {"brvbar", 166},  {"bull", 8226},   {"ccedil", 231},
    {"cedil", 184},   {"cent", 162},    {"chi", 967},     {"circ", 710},    {"copy", 169},
    {"curren", 164},  {"dagger", 8224}, {"darr", 8595},   {"deg", 176},     {"delta", 948},
    {"divide", 247},  {"eacute", 233},  {"ecirc", 234},   {"egrave", 232},  {"emsp", 8195},
    {"ensp", 8194},   {"epsilon", 949}, {"eta", 951},     {"eth", 240},     {"euml", 235},
    {"euro", 8364},   {"fnof", 402},    {"frac12", 189},  {"frac14", 188},  {"frac34", 190},
    {"frasl", 8260},  {"gamma", 947},   {"gt", 62},       {"harr", 8596},   {"hellip", 8230},
    {"iacute", 237},  {"icirc", 238},   {"iexcl", 161},   {"igrave", 236},  {"iota", 953},
    {"iquest", 191},  {"iuml", 239},    {"kappa", 954},   {"lambda", 955},  {"laquo", 171},
    {"larr", 8592},   {"ldquo", 8220},  {"lsaquo", 8249}, {"lsquo", 8216},  {"lt", 60},
    {"macr", 175},    {"mdash", 8212},  {"micro", 181},   {"middot", 183},  {"mu", 956},
    {"nbsp", 160},    {"ndash", 8211},  {"not", 172},     {"ntilde", 241},  {"nu", 957},
    {"oacute", 243},  {"ocirc", 244},   {"oelig", 339},   {"ograve", 242},  {"omega", 969},
    {"omicron", 959}, {"ordf", 170},    {"ordm", 186},    {"oslash", 248},  {"otilde", 245},
    {"ouml", 246},    {"para", 182},    {"permil", 8240}, {"phi", 966},     {"pi", 960},
    {"plusmn", 177},  {"pound", 163},   {"prime", 8242},  {"psi", 968},     {"quot", 34},
    {"raquo", 187},   {"rarr", 8594},   {"rdquo", 8221},  {"reg", 174},     {"rho", 961},
    {"rsaquo", 8250}, {"rsquo", 8217},  {"sbquo", 8218},  {"scaron", 353},  {"sect", 167},
    {"shy", 173},     {"sigma", 963},   {"sigmaf", 962},  {"sup1", 185},    {"sup2", 178},
    {"sup3", 179},    {"szlig", 223},   {"tau", 964},     {"theta", 952},   {"thinsp", 8201},
    {"thorn", 254},   {"tilde", 732},   {"times", 215},   {"trade", 8482},  {"uacute", 250},
    {"uarr", 8593},   {"ucirc", 251},   {"ugrave", 249},  {"uml", 168},     {"upsilon", 965},
    {"uuml", 252},    {"xi", 958},      {"yacute", 253},  {"yen", 165},     {"yuml", 255},
    {"zeta", 950},    {"zwj", 8205},    {"zwnj", 8204}};

static int entity_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const struct entity *)elem)->name);
}

/* Output state of the HTML scanner: white space is held back and collapsed. */
struct hstate {
    struct mail_sbuf *o;
    int space;    /* a space is pending */
    int newlines; /* line breaks pending, 0..2 */
    int started;  /* some text was written */
};

static int h_break(struct hstate *h, int n)
{
    if (n > 2) {
        n = 2;
    }
    if (h->newlines < n) {
        h->newlines = n;
    }
    return NN_OK;
}

/* Writes pending white space, then n bytes of text. */
static int h_text(struct hstate *h, const char *s, size_t n)
{
    int rc = NN_OK;

    if (h->started && h->newlines > 0) {
        rc = mail_sb_put(h->o, "\n\n", (size_t)h->newlines);
    } else if (h->started && h->space) {
        rc = mail_sb_putc(h->o, ' ');
    }
    if (rc != NN_OK) {
        return rc;
    }
    h->newlines = 0;
    h->space = 0;
    h->started = 1;
    return mail_sb_put(h->o, s, n);
}

static int h_cp(struct hstate *h, uint32_t cp)
{
    struct mail_sbuf one;
    char u[8];
    int rc;

    if (cp == 0xA0 || cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f') {
        h->space = 1;
        return NN_OK;
    }
    if (cp < 0x20 || cp == 0x7F) {
        return NN_OK;
    }
    if (cp >= 0x80 && cp < 0xA0) {
        cp = mail_cp1252((unsigned char)cp); /* as browsers do with &#150; */
    }
    /* encode into a small stack buffer, then write as text */
    one.p = u;
    one.len = 0;
    one.cap = sizeof u;
    one.max = 4;
    one.full = 0;
    rc = mail_sb_put_cp(&one, cp);
    if (rc != NN_OK) {
        return rc;
    }
    return h_text(h, u, one.len);
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

/* Case-insensitive search for needle (lower case) in s[from..n); returns its index or n. */
static size_t find_ci(const char *s, size_t n, size_t from, const char *needle)
{
    size_t m = strlen(needle);
    size_t i;
    size_t j;

    for (i = from; i + m <= n; i++) {
        for (j = 0; j < m && mail_lower((unsigned char)s[i + j]) == needle[j]; j++) {
        }
        if (j == m) {
            return i;
        }
    }
    return n;
}

/* Decodes the character reference at s[i] == '&'; returns the bytes used, 0 if it is none. */
static size_t h_entity(struct hstate *h, const char *s, size_t n, size_t i, int *rc)
{
    size_t j = i + 1;
    uint32_t cp = 0;
    char name[12];
    size_t k = 0;
    const struct entity *e;

    *rc = NN_OK;
    if (j < n && s[j] == '#') {
        int hex = 0;
        size_t digits = 0;

        j++;
        if (j < n && (s[j] == 'x' || s[j] == 'X')) {
            hex = 1;
            j++;
        }
        for (; j < n; j++) {
            int c = (unsigned char)s[j];
            int v;
            if (c >= '0' && c <= '9') {
                v = c - '0';
            } else if (hex && mail_lower(c) >= 'a' && mail_lower(c) <= 'f') {
                v = mail_lower(c) - 'a' + 10;
            } else {
                break;
            }
            if (cp <= 0x10FFFF) {
                cp = cp * (hex ? 16u : 10u) + (uint32_t)v;
            }
            digits++;
        }
        if (digits == 0) {
            return 0;
        }
        if (j < n && s[j] == ';') {
            j++;
        }
        if (cp == 0) {
            cp = 0xFFFD;
        }
        *rc = h_cp(h, cp);
        return j - i;
    }
    while (j < n && k + 1 < sizeof name && is_alnum((unsigned char)s[j])) {
        name[k++] = s[j++];
    }
    name[k] = '\0';
    if (k == 0) {
        return 0;
    }
    if (j >= n || s[j] != ';') {
        /* without ';' only the legacy five that browsers also take ("&nbsp &amp") */
        static const char *const legacy[] = {"amp", "lt", "gt", "quot", "nbsp"};
        size_t t;
        for (t = 0; t < sizeof legacy / sizeof legacy[0]; t++) {
            size_t m = strlen(legacy[t]);
            if (strncmp(name, legacy[t], m) == 0) {
                name[m] = '\0';
                j = i + m; /* "&nbspb": the entity, then "b"; no ';' to consume */
                break;
            }
        }
        if (t == sizeof legacy / sizeof legacy[0]) {
            return 0;
        }
    }
    e = bsearch(name, entities, sizeof entities / sizeof entities[0], sizeof entities[0],
                entity_cmp);
    if (e == NULL) {
        return 0;
    }
    *rc = h_cp(h, e->cp);
    return j + 1 - i;
}

/* Layout of a tag: 2 = paragraph break, 1 = line break, 3 = space, 0 = inline. */
static int tag_layout(const char *name)
{
    static const char *const para[] = {"p",          "h1",  "h2", "h3", "h4", "h5", "h6",  "table",
                                       "blockquote", "pre", "ul", "ol", "dl", "hr", "form"};
    static const char *const line[] = {"br",   "div",   "tr",     "li",      "dt",
                                       "dd",   "title", "center", "address", "caption",
                                       "body", "html",  "head",   "option"};
    static const char *const space[] = {"td", "th", "img", "input", "select", "textarea"};
    size_t i;

    for (i = 0; i < sizeof para / sizeof para[0]; i++) {
        if (strcmp(name, para[i]) == 0) {
            return 2;
        }
    }
    for (i = 0; i < sizeof line / sizeof line[0]; i++) {
        if (strcmp(name, line[i]) == 0) {
            return 1;
        }
    }
    for (i = 0; i < sizeof space / sizeof space[0]; i++) {
        if (strcmp(name, space[i]) == 0) {
            return 3;
        }
    }
    return 0;
}

/* End of the tag starting at s[i] == '<': index after its '>' (quotes respected if closed). */
static size_t tag_end(const char *s, size_t n, size_t i)
{
    size_t j;
    char q = 0;

    for (j = i + 1; j < n; j++) {
        if (q != 0) {
            if (s[j] == q) {
                q = 0;
            }
        } else if (s[j] == '"' || s[j] == '\'') {
            q = s[j];
        } else if (s[j] == '>') {
            return j + 1;
        }
    }
    /* an unclosed quote: fall back to the first '>' */
    for (j = i + 1; j < n; j++) {
        if (s[j] == '>') {
            return j + 1;
        }
    }
    return n;
}

/* Reduces clean UTF-8 HTML s[0..n) to text appended to o. */
int mail_html_reduce(const char *s, size_t n, struct mail_sbuf *o)
{
    struct hstate h = {o, 0, 0, 0};
    size_t i = 0;
    size_t run = 0; /* start of pending plain text */
    int rc = NN_OK;

    while (i < n && !o->full) {
        char c = s[i];
        size_t used;

        if (c != '<' && c != '&' && c != ' ' && c != '\t' && c != '\n') {
            i++;
            continue;
        }
        if (i > run) {
            rc = h_text(&h, s + run, i - run);
            if (rc != NN_OK) {
                return rc;
            }
        }
        run = i + 1;
        if (c == ' ' || c == '\t' || c == '\n') {
            h.space = 1;
            i++;
            continue;
        }
        if (c == '&') {
            used = h_entity(&h, s, n, i, &rc);
            if (rc != NN_OK) {
                return rc;
            }
            if (used == 0) {
                rc = h_text(&h, "&", 1);
                used = 1;
            }
            i += used;
            run = i;
            if (rc != NN_OK) {
                return rc;
            }
            continue;
        }
        /* c == '<' */
        if (i + 3 < n && s[i + 1] == '!' && s[i + 2] == '-' && s[i + 3] == '-') {
            size_t e = find_ci(s, n, i + 4, "-->");
            i = e < n ? e + 3 : n;
        } else if (i + 1 < n && (s[i + 1] == '!' || s[i + 1] == '?')) {
            i = tag_end(s, n, i);
        } else if (i + 1 < n &&
                   (is_alpha((unsigned char)s[i + 1]) ||
                    (s[i + 1] == '/' && i + 2 < n && is_alpha((unsigned char)s[i + 2])))) {
            char name[16];
            size_t k = 0;
            size_t j = i + 1;
            int closing = s[j] == '/';
            int lay;

            if (closing) {
                j++;
            }
            while (j < n && is_alnum((unsigned char)s[j])) {
                if (k + 1 < sizeof name) {
                    name[k++] = (char)mail_lower((unsigned char)s[j]);
                }
                j++;
            }
            name[k] = '\0';
            i = tag_end(s, n, i);
            lay = tag_layout(name);
            if (lay == 3) {
                h.space = 1;
            } else if (strcmp(name, "br") == 0) {
                h_break(&h, h.newlines + 1); /* <br><br> is a blank line */
            } else if (lay > 0) {
                h_break(&h, lay);
            }
            if (!closing && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)) {
                size_t e = find_ci(s, n, i, name[1] == 'c' ? "</script" : "</style");
                i = e < n ? tag_end(s, n, e) : n;
            }
        } else {
            rc = h_text(&h, "<", 1);
            if (rc != NN_OK) {
                return rc;
            }
            i++;
        }
        run = i;
    }
    if (i > run && !o->full) {
        rc = h_text(&h, s + run, i - run);
    }
    return rc;
}

/* Whether a text/plain body is in fact HTML (old spam often sends HTML without a type). */
int mail_looks_html(const char *s, size_t n)
{
    static const char *const strong[] = {"<html", "<body", "<!doctype html", "<head>"};
    static const char *const weak[] = {"<br",     "<p>", "<p ",   "<div", "<font",    "<table",
                                       "<a href", "<td", "<img ", "<b>",  "<center>", "</a>"};
    size_t hits = 0;
    size_t i;
    size_t t;
    size_t j;

    for (i = 0; i < n; i++) {
        if (s[i] != '<') {
            continue;
        }
        for (t = 0; t < sizeof strong / sizeof strong[0]; t++) {
            size_t m = strlen(strong[t]);
            for (j = 0; j < m && i + j < n && mail_lower((unsigned char)s[i + j]) == strong[t][j];
                 j++) {
            }
            if (j == m) {
                return 1;
            }
        }
        for (t = 0; t < sizeof weak / sizeof weak[0]; t++) {
            size_t m = strlen(weak[t]);
            for (j = 0; j < m && i + j < n && mail_lower((unsigned char)s[i + j]) == weak[t][j];
                 j++) {
            }
            if (j == m) {
                hits++;
            }
            if (hits >= 3) {
                return 1;
            }
        }
    }
    return 0;
}

int mail_html_to_text(const char *html, size_t len, char **out, size_t *out_len, struct nn_err *err)
{
    struct mail_sbuf tmp;
    struct mail_sbuf o;
    int rc;

    if (mail_out_start(out, out_len) != 0 || (html == NULL && len > 0)) {
        return nn_err_set(err, NN_EINVAL, "mail_html_to_text: NULL argument");
    }
    mail_sb_init(&tmp, len > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : len * 4 + 64);
    mail_sb_init(&o, SIZE_MAX - 1);
    rc = mail_clean_text(html != NULL ? html : "", len, MAIL_CONV_AUTO, &tmp);
    if (rc == NN_OK && tmp.len > 0) {
        rc = mail_html_reduce(tmp.p, tmp.len, &o);
    }
    mail_sb_fini(&tmp);
    return mail_sb_finish(&o, rc, out, out_len, "reducing HTML", err);
}
