/*
 * mail_charset: bytes in a declared charset to clean UTF-8 (internal to mail/).
 *
 * UTF-8, ASCII, latin-1 and windows-1252 are decoded here (invalid UTF-8 bytes are read as
 * windows-1252, the usual truth of mislabelled mail); any other charset goes through GMime's
 * iconv wrapper, whose aliases know what mail calls charsets. Line ends become "\n" and control
 * characters are dropped. It also owns GMime's one-time set-up (mail_gmime_ready).
 * Thread-safety: any number of threads at once.
 */
#ifndef NEUROND_MAIL_MAIL_CHARSET_H
#define NEUROND_MAIL_MAIL_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "mail/mail_sbuf.h"

enum mail_conv {
    MAIL_CONV_AUTO, /* UTF-8 where valid, each other byte as windows-1252 */
    MAIL_CONV_1252  /* every byte as windows-1252 */
};

/** ASCII lower case of c (other bytes unchanged): locale-free, for tags and header names. */
static inline int mail_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/** windows-1252's code point for byte c (U+FFFD for its five unassigned bytes). */
uint32_t mail_cp1252(unsigned char c);

/** Appends s[0..n) as clean UTF-8 decoded per mode. @return NN_OK or NN_ENOMEM. */
int mail_clean_text(const char *s, size_t n, enum mail_conv mode, struct mail_sbuf *o);

/** Sets GMime up once for the process (pthread_once); every GMime user calls it first. */
void mail_gmime_ready(void);

/** Appends the bytes of a part in charset cs (NULL or "" = unknown) as clean UTF-8; unknown
 * charsets are decoded as MAIL_CONV_AUTO, undecodable bytes become U+FFFD. @return NN_OK or
 * NN_ENOMEM. */
int mail_decode_charset(const char *s, size_t n, const char *cs, struct mail_sbuf *o);

#endif
