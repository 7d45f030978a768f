/*
 * http_int: what the files of the HTTP front share and handlers do not see: the body reading
 * (http_body.c) called from the access handler (http.c). Not part of the handler API (http.h).
 * Thread-safety: as http.h: a srv_req belongs to the one MHD thread serving its connection.
 */
#ifndef NEUROND_SERVER_HTTP_INT_H
#define NEUROND_SERVER_HTTP_INT_H

#include <stddef.h>

#include "http.h"
#include "router.h"

/**
 * Picks the body kind and cap of request r on route rt from its Content-Type (and sets up the
 * multipart post-processor). @return 0 to go on reading, or 1 after a 415 or 400 was sent.
 */
int srv_http_body_start(struct srv_req *r, const struct srv_route *rt);

/** Takes one piece of the body (counted against the cap; past it, discarded and 413 noted). */
void srv_http_body_chunk(struct srv_req *r, const char *data, size_t size);

/** Ends the body: closes the multipart parser and the spool file, the digest made. An error met
 * while reading is left in r->body_status / r->body_msg for the caller to send. */
void srv_http_body_end(struct srv_req *r);

#endif
