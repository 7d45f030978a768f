/*
 * mail_html: HTML reduced to its text (internal to mail/; mail_html_to_text is public in
 * mail.h).
 *
 * A small tolerant scanner, no DOM: spam HTML is broken more often than not and only its words
 * matter. Tags give line breaks, paragraphs or spaces; script, style and comments are dropped;
 * character references are decoded; white space is collapsed.
 * Thread-safety: any number of threads at once.
 */
#ifndef NEUROND_MAIL_MAIL_HTML_H
#define NEUROND_MAIL_MAIL_HTML_H

#include <stddef.h>

#include "mail/mail_sbuf.h"

/** Reduces clean UTF-8 HTML s[0..n) to text appended to o. @return NN_OK or NN_ENOMEM. */
int mail_html_reduce(const char *s, size_t n, struct mail_sbuf *o);

/** Whether a text/plain body is in fact HTML (old spam sends HTML without a type). */
int mail_looks_html(const char *s, size_t n);

#endif
