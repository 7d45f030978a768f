/*
 * mail: turns an e-mail into the plain UTF-8 text the spam model reads.
 *
 * Three input forms give one text "<subject>\n\n<body text>": a raw RFC 822 message
 * (mail_to_text: GMime 3 parses headers and MIME, undoes base64/quoted-printable, we convert
 * charsets and reduce HTML to text), a decoded "subject\n\nbody" text (mail_decoded_text) and
 * a {subject, body} pair (mail_subject_body). All three run the same per-part normalisation, so
 * training on one form and scoring another sees the same tokens. It does not keep headers other
 * than Subject, attachments other than text/plain and text/html, or any layout.
 * Thread-safety: every function may run in any number of threads at once: each call builds its
 * own GMime objects and keeps no state; GMime's process-wide set-up is done once, internally,
 * by the first call that needs it (pthread_once).
 */
#ifndef NEUROND_MAIL_MAIL_H
#define NEUROND_MAIL_MAIL_H

#include <stddef.h>

#include "nn/err.h"

#define MAIL_MAX_INPUT_DEFAULT  ((size_t)32 << 20) /* 32 MiB of raw message */
#define MAIL_MAX_PARTS_DEFAULT  ((size_t)1000)     /* leaf MIME parts */
#define MAIL_MAX_OUTPUT_DEFAULT ((size_t)4 << 20)  /* 4 MiB of text */

/* mail_limits.flags: keep HTML markup instead of reducing it to text (for comparisons). */
#define MAIL_KEEP_HTML 1u

/*
 * Bounds on one message. A zero field means its default. Passing max_input or max_parts is an
 * error (NN_ERANGE); passing max_output is not: the text is cut at a UTF-8 character boundary
 * so that it holds at most max_output bytes.
 */
struct mail_limits {
    size_t max_input;  /* bytes of raw message accepted */
    size_t max_parts;  /* leaf MIME parts (multipart containers do not count) */
    size_t max_output; /* bytes of text returned; the rest is cut */
    unsigned flags;    /* MAIL_KEEP_HTML or 0 */
};

/**
 * Fills a limits struct with the defaults (32 MiB in, 1000 parts, 4 MiB out, HTML reduced).
 * @param lim [out] the struct to fill.
 */
void mail_limits_init(struct mail_limits *lim);

/**
 * Initialises GMime now rather than at the first decoding call (optional: every function that
 * needs GMime does it itself, once). Calling it again does nothing.
 * @return NN_OK.
 * Thread-safety: thread-safe (pthread_once).
 */
int mail_global_init(void);

/**
 * Says whether a text starts like a raw RFC 822 message: an optional mbox "From " line, then
 * at least two well-formed header fields "Name: value" (continuation lines allowed), one of them
 * a common message header (From, To, Subject, Date, Received, Return-Path, Message-ID,
 * MIME-Version, Content-Type, ...), up to a blank line or the end of the text. A decoded
 * "subject\n\nbody" text ("Re: lunch\n\n...") is not raw.
 * @param s   [in] the text (need not be NUL-terminated); NULL gives 0.
 * @param len [in] its length in bytes.
 * @return 1 when it looks raw, else 0.
 * Thread-safety: thread-safe; needs no mail_global_init.
 */
int mail_looks_raw(const char *s, size_t len);

/**
 * Decodes a raw message into "<subject>\n\n<text>", UTF-8. The subject is RFC 2047-decoded and
 * unfolded; the text is every text/plain and text/html leaf part, in message order (nested
 * multiparts and attached message/rfc822 bodies included), joined by "\n". Each part is
 * transfer-decoded, converted from its charset to UTF-8 (none, us-ascii, latin-1 and unknown
 * charsets: UTF-8 when the bytes are valid UTF-8, else windows-1252; undecodable bytes become
 * U+FFFD), its line ends made "\n", control characters dropped, and HTML (text/html, or a
 * text/plain part that looks like HTML) reduced to its text unless lim->flags has
 * MAIL_KEEP_HTML. CRLF and LF input give the same bytes; so do reordered headers (with
 * several Subject fields the first one is used). Malformed input decodes as far as it can; a
 * multipart whose boundary never matches gives its prologue as text. A message that is valid
 * UTF-8 with every character below U+0100 (a raw mail whose 8-bit bytes were stored as latin-1
 * characters, as in a CSV or JSON string) is first turned back into those bytes, so that its
 * declared charsets apply; for genuine UTF-8 parts this gives the same characters.
 * @param raw     [in] the message (need not be NUL-terminated).
 * @param len     [in] its length in bytes.
 * @param lim     [in] limits; NULL for the defaults.
 * @param out     [out] the text, NUL-terminated; set to NULL on failure.
 * @param out_len [out] its length without the NUL; set to 0 on failure.
 * @param err     [out] error details; NULL allowed.
 * @return NN_OK; NN_EINVAL for NULL arguments; NN_ERANGE when len > max_input or the message has
 *         more than max_parts leaf parts; NN_ENOMEM.
 * Ownership: *out is new; the caller frees it with nn_free.
 * Thread-safety: thread-safe (GMime objects are per call; its set-up is done once, inside).
 */
int mail_to_text(const char *raw, size_t len, const struct mail_limits *lim, char **out,
                 size_t *out_len, struct nn_err *err);

/**
 * Builds the same "<subject>\n\n<body>" text from a subject and a body given apart (the JSON
 * form). The subject is unfolded and trimmed as in mail_to_text; the body gets the per-part
 * normalisation of mail_to_text (bytes taken as UTF-8, else windows-1252; HTML reduced when the
 * body looks like HTML). Output is cut at MAIL_MAX_OUTPUT_DEFAULT bytes.
 * @param subject [in] NUL-terminated; NULL means "".
 * @param body    [in] NUL-terminated; NULL means "".
 * @param out     [out] the text, NUL-terminated; set to NULL on failure.
 * @param out_len [out] its length without the NUL; 0 on failure.
 * @param err     [out] error details; NULL allowed.
 * @return NN_OK; NN_EINVAL when out or out_len is NULL; NN_ENOMEM.
 * Ownership: *out is new; the caller frees it with nn_free.
 * Thread-safety: thread-safe; needs no mail_global_init.
 */
int mail_subject_body(const char *subject, const char *body, char **out, size_t *out_len,
                      struct nn_err *err);

/**
 * Normalises an already decoded "subject\n\nbody" text (the text column of
 * spamassassin_train.csv) exactly as mail_subject_body would the two halves. A text without
 * a blank line is taken as all body with an empty subject. Use it on decoded training texts so
 * that they match what mail_to_text gives for the raw messages.
 * @param text    [in] the text (need not be NUL-terminated).
 * @param len     [in] its length in bytes.
 * @param out     [out] the text, NUL-terminated; set to NULL on failure.
 * @param out_len [out] its length without the NUL; 0 on failure.
 * @param err     [out] error details; NULL allowed.
 * @return NN_OK; NN_EINVAL for NULL arguments; NN_ENOMEM.
 * Ownership: *out is new; the caller frees it with nn_free.
 * Thread-safety: thread-safe; needs no mail_global_init.
 */
int mail_decoded_text(const char *text, size_t len, char **out, size_t *out_len,
                      struct nn_err *err);

/**
 * Reduces HTML to its text: tags and comments removed, script and style contents dropped,
 * character references decoded, white space collapsed (block elements start new lines, at most
 * one blank line in a row). Input is taken as UTF-8 (invalid bytes as windows-1252).
 * @param html    [in] the markup (need not be NUL-terminated).
 * @param len     [in] its length in bytes.
 * @param out     [out] the text, NUL-terminated; set to NULL on failure.
 * @param out_len [out] its length without the NUL; 0 on failure.
 * @param err     [out] error details; NULL allowed.
 * @return NN_OK; NN_EINVAL for NULL arguments; NN_ENOMEM.
 * Ownership: *out is new; the caller frees it with nn_free.
 * Thread-safety: thread-safe; needs no mail_global_init.
 */
int mail_html_to_text(const char *html, size_t len, char **out, size_t *out_len,
                      struct nn_err *err);

/**
 * The text decoder of a text input (model/ wires it into tab/ under the name "mail"): a cell
 * that looks like a raw message (mail_looks_raw) is decoded with mail_to_text at the default
 * limits; any other cell is left as it is.
 * @param cell    [in] the cell (need not be NUL-terminated).
 * @param len     [in] its length in bytes.
 * @param out     [out] the decoded text, NUL-terminated; NULL when the cell is not a message
 *                or on failure.
 * @param out_len [out] its length without the NUL; 0 when *out is NULL.
 * @return NN_OK (also when the cell is left as it is), or mail_to_text's error.
 * Ownership: *out is new; the caller frees it with nn_free.
 * Thread-safety: thread-safe; needs no set-up.
 */
int mail_decode_cell(const char *cell, size_t len, char **out, size_t *out_len);

#endif
