/*
 * mail.c: e-mail to model text. GMime 3 does what is easy to get wrong in a mail parser
 * (header unfolding, RFC 2047 words, MIME boundaries, base64 / quoted-printable / uuencode,
 * charset aliases); this file does the rest: choosing the text parts, converting them to clean
 * UTF-8 with a windows-1252 fallback, and reducing HTML to text with a small tolerant scanner
 * (no DOM: spam HTML is broken more often than not, and we only need its words).
 *
 * Every growing buffer has a hard limit; the input is bounded before GMime sees it, and GMime
 * itself stops nesting at 1024 levels. GMime and GLib allocate with g_malloc, which aborts on
 * out-of-memory; their allocations are bounded by the input limit. What we allocate goes
 * through nn/alloc.h and fails with NN_ENOMEM.
 */
#include "mail/mail.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <gmime/gmime.h>

#include "nn/alloc.h"
#include "nn/utf8.h"

/* ------------------------------------------------------------------------------------------ */
/* Bounded string buffer                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* A growing byte string with a hard maximum; appending past max cuts at a UTF-8 boundary. */
struct sbuf {
    char *p;
    size_t len;
    size_t cap; /* bytes allocated, the NUL included */
    size_t max; /* most bytes of content */
    int full;   /* something was cut */
};

static void sb_init(struct sbuf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->full = 0;
}

static void sb_fini(struct sbuf *b)
{
    nn_free(b->p);
    sb_init(b, b->max);
}

/* Makes room for extra more bytes (and the NUL), within max. */
static int sb_reserve(struct sbuf *b, size_t extra)
{
    size_t need;
    size_t ncap;
    char *np;

    if (extra > b->max - b->len) {
        extra = b->max - b->len;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return NN_OK;
    }
    ncap = b->cap < 256 ? 256 : b->cap;
    while (ncap < need) {
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    }
    if (ncap > b->max + 1) {
        ncap = b->max + 1;
    }
    np = nn_realloc(b->p, ncap);
    if (np == NULL) {
        return NN_ENOMEM;
    }
    b->p = np;
    b->cap = ncap;
    return NN_OK;
}

/* Appends n bytes of valid UTF-8; past max, appends the whole characters that fit. */
static int sb_put(struct sbuf *b, const char *s, size_t n)
{
    int rc;

    if (b->full || n == 0) {
        return NN_OK;
    }
    if (n > b->max - b->len) {
        n = b->max - b->len;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
        b->full = 1;
    }
    rc = sb_reserve(b, n);
    if (rc != NN_OK) {
        return rc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return NN_OK;
}

static int sb_putc(struct sbuf *b, char c)
{
    return sb_put(b, &c, 1);
}

/* Appends one code point as UTF-8 (U+FFFD for invalid ones). */
static int sb_put_cp(struct sbuf *b, uint32_t cp)
{
    char u[4];

    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        return sb_putc(b, (char)cp);
    }
    if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        return sb_put(b, u, 2);
    }
    if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        return sb_put(b, u, 3);
    }
    u[0] = (char)(0xF0 | (cp >> 18));
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    return sb_put(b, u, 4);
}

/* Hands the buffer's string to the caller (an empty string when nothing was appended). */
static int sb_take(struct sbuf *b, char **out, size_t *out_len)
{
    int rc = sb_reserve(b, 0);

    if (rc != NN_OK) {
        return rc;
    }
    b->p[b->len] = '\0';
    *out = b->p;
    *out_len = b->len;
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    return NN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Bytes to clean UTF-8                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* windows-1252 0x80..0x9F; 0 marks the five unassigned bytes (taken as U+FFFD). */
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

static uint32_t cp1252(unsigned char c)
{
    if (c >= 0x80 && c < 0xA0) {
        return cp1252_hi[c - 0x80] != 0 ? cp1252_hi[c - 0x80] : 0xFFFD;
    }
    return c;
}

enum conv_mode {
    CONV_AUTO, /* UTF-8 where valid, each other byte as windows-1252 */
    CONV_1252  /* every byte as windows-1252 */
};

/*
 * Appends s as clean UTF-8: line ends made "\n", NUL and other C0/C1 controls (but tab and
 * newline) dropped, bytes decoded per mode.
 */
static int clean_text(const char *s, size_t n, enum conv_mode mode, struct sbuf *o)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    size_t run = 0; /* start of a run of bytes copied as they are */
    int rc = NN_OK;

    while (i < n && !o->full) {
        unsigned char c = u[i];
        size_t k;

        if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n') {
            i++;
            continue;
        }
        k = c >= 0x80 && mode == CONV_AUTO ? nn_utf8_seq(u + i, n - i) : 0;
        if (k > 0 && !(c == 0xC2 && u[i + 1] < 0xA0)) {
            i += k;
            continue;
        }
        rc = sb_put(o, s + run, i - run);
        if (rc != NN_OK) {
            return rc;
        }
        if (k > 0) {
            i += k; /* a C1 control written in UTF-8: dropped */
            run = i;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= n || u[i + 1] != '\n') {
                rc = sb_putc(o, '\n');
            }
        } else if (c >= 0x80) {
            rc = sb_put_cp(o, cp1252(c)); /* latin-1 text, or a byte that is not UTF-8 */
        }
        if (rc != NN_OK) {
            return rc;
        }
        i++;
        run = i;
    }
    return sb_put(o, s + run, i - run);
}

static int ascii_ieq(const char *a, const char *b)
{
    while (*a != '\0' && *b != '\0') {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) {
            return 0;
        }
        a++;
        b++;
    }
    return *a == *b;
}

/* Charsets we decode ourselves: AUTO for UTF-8 and ASCII, 1252 for latin-1 and windows-1252. */
static int builtin_mode(const char *cs, enum conv_mode *mode)
{
    static const char *const autos[] = {"utf-8",     "utf8",         "us-ascii",
                                        "ascii",     "us_ascii",     "ansi_x3.4-1968",
                                        "x-unknown", "unknown-8bit", "default"};
    static const char *const w1252[] = {"iso-8859-1", "iso8859-1",  "iso_8859-1",   "latin1",
                                        "latin-1",    "l1",         "windows-1252", "cp1252",
                                        "x-cp1252",   "iso-ir-100", "ibm819",       "cp819"};
    size_t i;

    if (cs == NULL || cs[0] == '\0') {
        *mode = CONV_AUTO;
        return 1;
    }
    for (i = 0; i < sizeof autos / sizeof autos[0]; i++) {
        if (ascii_ieq(cs, autos[i])) {
            *mode = CONV_AUTO;
            return 1;
        }
    }
    for (i = 0; i < sizeof w1252 / sizeof w1252[0]; i++) {
        if (ascii_ieq(cs, w1252[i])) {
            *mode = CONV_1252;
            return 1;
        }
    }
    return 0;
}

/* ==========================================================================================
 * GMime's one-time set-up, done here before the first call that needs it (pthread_once: any
 * number of threads may race to it), so that no caller can forget it.
 */
static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_init_once(void)
{
    g_mime_init();
}

static void gmime_ready(void)
{
    (void)pthread_once(&gmime_once, gmime_init_once);
}

/*
 * Appends the bytes of a part in charset cs as clean UTF-8. Charsets iconv does not know are
 * decoded as AUTO; bytes iconv rejects become U+FFFD.
 */
static int decode_charset(const char *s, size_t n, const char *cs, struct sbuf *o)
{
    enum conv_mode mode;
    iconv_t cd;
    struct sbuf tmp;
    char *in = (char *)(uintptr_t)s;
    size_t inleft = n;
    int rc = NN_OK;

    if (builtin_mode(cs, &mode)) {
        return clean_text(s, n, mode, o);
    }
    gmime_ready();
    cd = g_mime_iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1) {
        return clean_text(s, n, CONV_AUTO, o);
    }
    /* UTF-8 from any charset is at most 4 bytes per input byte (plus U+FFFD marks, 3). */
    sb_init(&tmp, n > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : n * 4 + 64);
    while (inleft > 0) {
        char *op;
        size_t oleft;
        size_t r;

        rc = sb_reserve(&tmp, inleft * 2 + 16);
        if (rc != NN_OK) {
            goto fail;
        }
        op = tmp.p + tmp.len;
        oleft = tmp.cap - 1 - tmp.len;
        r = iconv(cd, &in, &inleft, &op, &oleft);
        tmp.len = (size_t)(op - tmp.p);
        if (r != (size_t)-1) {
            break;
        }
        if (errno == E2BIG) {
            if (tmp.cap - 1 >= tmp.max) {
                break; /* cannot happen within the bound; stop rather than loop */
            }
            rc = sb_reserve(&tmp, tmp.cap); /* grow */
            if (rc != NN_OK) {
                goto fail;
            }
            continue;
        }
        /* EILSEQ or EINVAL: one undecodable byte */
        rc = sb_put_cp(&tmp, 0xFFFD);
        if (rc != NN_OK) {
            goto fail;
        }
        in++;
        inleft--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    rc = clean_text(tmp.p != NULL ? tmp.p : "", tmp.len, CONV_AUTO, o);
fail:
    g_mime_iconv_close(cd);
    sb_fini(&tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* HTML to text                                                                                 */
/* ------------------------------------------------------------------------------------------ */

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
    struct sbuf *o;
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
        rc = sb_put(h->o, "\n\n", (size_t)h->newlines);
    } else if (h->started && h->space) {
        rc = sb_putc(h->o, ' ');
    }
    if (rc != NN_OK) {
        return rc;
    }
    h->newlines = 0;
    h->space = 0;
    h->started = 1;
    return sb_put(h->o, s, n);
}

static int h_cp(struct hstate *h, uint32_t cp)
{
    struct sbuf one;
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
        cp = cp1252((unsigned char)cp); /* as browsers do with &#150; */
    }
    /* encode into a small stack buffer, then write as text */
    one.p = u;
    one.len = 0;
    one.cap = sizeof u;
    one.max = 4;
    one.full = 0;
    rc = sb_put_cp(&one, cp);
    if (rc != NN_OK) {
        return rc;
    }
    return h_text(h, u, one.len);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
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
        for (j = 0; j < m && lower((unsigned char)s[i + j]) == needle[j]; j++) {
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
            } else if (hex && lower(c) >= 'a' && lower(c) <= 'f') {
                v = lower(c) - 'a' + 10;
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
static int html_reduce(const char *s, size_t n, struct sbuf *o)
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
                    name[k++] = (char)lower((unsigned char)s[j]);
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
static int looks_html(const char *s, size_t n)
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
            for (j = 0; j < m && i + j < n && lower((unsigned char)s[i + j]) == strong[t][j]; j++) {
            }
            if (j == m) {
                return 1;
            }
        }
        for (t = 0; t < sizeof weak / sizeof weak[0]; t++) {
            size_t m = strlen(weak[t]);
            for (j = 0; j < m && i + j < n && lower((unsigned char)s[i + j]) == weak[t][j]; j++) {
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

/* ------------------------------------------------------------------------------------------ */
/* Subject and body normalisation shared by the three input forms                               */
/* ------------------------------------------------------------------------------------------ */

/* Appends the subject: clean UTF-8 on one line, white space runs made one space, trimmed. */
static int put_subject(const char *s, size_t n, struct sbuf *o)
{
    struct sbuf tmp;
    size_t i;
    int space = 0;
    int started = 0;
    int rc;

    sb_init(&tmp, o->max);
    rc = clean_text(s, n, CONV_AUTO, &tmp);
    for (i = 0; rc == NN_OK && i < tmp.len; i++) {
        char c = tmp.p[i];
        if (c == ' ' || c == '\t' || c == '\n') {
            space = 1;
            continue;
        }
        if (space && started) {
            rc = sb_putc(o, ' ');
        }
        if (rc == NN_OK) {
            rc = sb_putc(o, c);
        }
        space = 0;
        started = 1;
    }
    sb_fini(&tmp);
    return rc;
}

/* Appends one body part (bytes in charset cs, NULL = unknown): clean, and HTML reduced. */
static int put_body(const char *s, size_t n, const char *cs, int is_html, unsigned flags,
                    struct sbuf *o)
{
    struct sbuf tmp;
    int rc;

    sb_init(&tmp, n > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : n * 4 + 64);
    rc = decode_charset(s, n, cs, &tmp);
    if (rc == NN_OK && tmp.len > 0) {
        if ((flags & MAIL_KEEP_HTML) == 0 && (is_html || looks_html(tmp.p, tmp.len))) {
            rc = html_reduce(tmp.p, tmp.len, o);
        } else {
            rc = sb_put(o, tmp.p, tmp.len);
        }
    }
    sb_fini(&tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Raw messages                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Walk state over the MIME tree. */
struct walk {
    struct sbuf *o;
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
        rc = sb_putc(w->o, '\n');
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
static int put_multipart_text(GMimeMultipart *mp, const struct mail_limits *lim, struct sbuf *o)
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
    gmime_ready();
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
        for (j = 0; j < n && lower((unsigned char)s[j]) == names[t][j]; j++) {
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
    struct sbuf o;
    struct walk w;
    GByteArray *ba = NULL;
    GMimeStream *stream = NULL;
    GMimeParser *parser = NULL;
    GMimeMessage *msg = NULL;
    GMimeObject *top;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if ((raw == NULL && len > 0) || out == NULL || out_len == NULL) {
        return nn_err_set(err, NN_EINVAL, "mail_to_text: NULL argument");
    }
    gmime_ready();
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
    sb_init(&o, L.max_output);
    ba = normalise_raw(raw != NULL ? raw : "", len);
    stream = g_mime_stream_mem_new_with_byte_array(ba); /* the stream owns ba */
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(parser, NULL);
    if (msg == NULL) {
        /* nothing GMime could call a message: take all of it as a body */
        rc = sb_put(&o, "\n\n", 2);
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
            rc = sb_put(&o, "\n\n", 2);
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
    rc = sb_take(&o, out, out_len);
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
    sb_fini(&o);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Decoded forms                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Builds "<subject>\n\n<body>" from the two halves, both normalised. */
static int build_pair(const char *subj, size_t slen, const char *body, size_t blen, char **out,
                      size_t *out_len, struct nn_err *err)
{
    struct sbuf o;
    int rc;

    sb_init(&o, MAIL_MAX_OUTPUT_DEFAULT);
    rc = put_subject(subj, slen, &o);
    if (rc == NN_OK) {
        rc = sb_put(&o, "\n\n", 2);
    }
    if (rc == NN_OK && blen > 0) {
        rc = put_body(body, blen, NULL, 0, 0, &o);
    }
    if (rc == NN_OK) {
        rc = sb_take(&o, out, out_len);
    }
    if (rc != NN_OK) {
        nn_err_set(err, rc, "out of memory normalising mail text");
        goto fail;
    }
fail:
    sb_fini(&o);
    return rc;
}

int mail_subject_body(const char *subject, const char *body, char **out, size_t *out_len,
                      struct nn_err *err)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if (out == NULL || out_len == NULL) {
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

    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if ((text == NULL && len > 0) || out == NULL || out_len == NULL) {
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

int mail_html_to_text(const char *html, size_t len, char **out, size_t *out_len, struct nn_err *err)
{
    struct sbuf tmp;
    struct sbuf o;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (out_len != NULL) {
        *out_len = 0;
    }
    if ((html == NULL && len > 0) || out == NULL || out_len == NULL) {
        return nn_err_set(err, NN_EINVAL, "mail_html_to_text: NULL argument");
    }
    sb_init(&tmp, len > (SIZE_MAX - 64) / 4 ? SIZE_MAX - 1 : len * 4 + 64);
    sb_init(&o, SIZE_MAX - 1);
    rc = clean_text(html != NULL ? html : "", len, CONV_AUTO, &tmp);
    if (rc == NN_OK && tmp.len > 0) {
        rc = html_reduce(tmp.p, tmp.len, &o);
    }
    if (rc == NN_OK) {
        rc = sb_take(&o, out, out_len);
    }
    if (rc != NN_OK) {
        nn_err_set(err, rc, "out of memory reducing HTML");
        goto fail;
    }
fail:
    sb_fini(&tmp);
    sb_fini(&o);
    return rc;
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
