/*
 * conns: see conns.h. A fixed array of slots (the capacity, allocated at start) with a free
 * stack, one mutex, and a watchdog thread that scans the slots every tick: a few thousand
 * slots cost microseconds. A slot is released only by srv_conns_close, which libmicrohttpd
 * calls before it closes the socket, so a shutdown under the lock never hits a reused fd.
 */
#include "conns.h"

#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "nn/alloc.h"

#define LOG_EVERY_MS 10000

enum phase { PH_WAIT, PH_BODY, PH_BUSY };

struct srv_conn {
    int fd;
    int used;
    int shut; /* shut down here; libmicrohttpd has yet to close it */
    enum phase phase;
    long long since_ms; /* PH_WAIT: waiting since; PH_BODY: headers complete at */
    long long last_ms;  /* PH_BODY: the last body byte */
    unsigned long long received;
};

struct srv_conns {
    struct srv_conns_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* guarded by lock */
    int stop;
    struct srv_conn *slots;
    int *free_ix; /* stack of free slot indices */
    int n_free;
    int live; /* used and not shut */
    unsigned long timed_out, evicted, refused;
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Closes c's connection (libmicrohttpd reads the end of the stream). Lock held. */
static void shut(struct srv_conns *t, struct srv_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->shut = 1;
    t->live--;
}

/* 1 when c is past a deadline at now. Lock held. */
static int overdue(const struct srv_conns *t, const struct srv_conn *c, long long now)
{
    const struct srv_conns_config *g = &t->cfg;

    if (c->phase == PH_WAIT) {
        return now - c->since_ms > g->header_ms;
    }
    if (c->phase != PH_BODY) {
        return 0;
    }
    if (now - c->last_ms > g->body_ms) {
        return 1;
    }
    /* mod_reqtimeout's MinRate: the grace, plus one second for every min_rate bytes */
    return g->body_min_rate > 0 &&
           now - c->since_ms > g->body_ms + (long long)(c->received * 1000 / g->body_min_rate);
}

/* 1 when c may make room at the limit: it waits for headers, or its body has so far come
 * slower than the minimum rate (a fast upload is never cut). Lock held. */
static int evictable(const struct srv_conns *t, const struct srv_conn *c, long long now)
{
    long long ms = now - c->since_ms;

    if (c->phase == PH_WAIT) {
        return 1;
    }
    return c->phase == PH_BODY && t->cfg.body_min_rate > 0 && ms > 1000 &&
           (long long)c->received * 1000 / ms < t->cfg.body_min_rate;
}

static void *watchdog(void *arg)
{
    struct srv_conns *t = arg;
    unsigned long logged = 0;
    long long last_log = now_ms();

    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += t->cfg.tick_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&t->wake, &t->lock, &until);
        long long now = now_ms();
        for (int i = 0; i < t->cfg.capacity; i++) {
            struct srv_conn *c = &t->slots[i];
            if (c->used && !c->shut && overdue(t, c, now)) {
                shut(t, c);
                t->timed_out++;
            }
        }
        unsigned long total = t->timed_out + t->evicted + t->refused;
        if (total != logged && now - last_log >= LOG_EVERY_MS) {
            srv_log("warn",
                    "slow or surplus connections closed since start: %lu past a deadline, %lu "
                    "evicted at the limit, %lu refused",
                    t->timed_out, t->evicted, t->refused);
            logged = total;
            last_log = now;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int srv_conns_new(const struct srv_conns_config *cfg, struct srv_conns **out, struct nn_err *err)
{
    struct srv_conns *t = nn_calloc(1, sizeof(*t));
    int rc;

    *out = NULL;
    if (t == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    t->cfg = *cfg;
    if (t->cfg.capacity < t->cfg.limit) {
        t->cfg.capacity = t->cfg.limit;
    }
    if (t->cfg.tick_ms <= 0) {
        t->cfg.tick_ms = 100;
    }
    t->slots = nn_calloc((size_t)t->cfg.capacity, sizeof(*t->slots));
    t->free_ix = nn_malloc((size_t)t->cfg.capacity * sizeof(*t->free_ix));
    if (t->slots == NULL || t->free_ix == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory for %d connection slots", t->cfg.capacity);
        goto fail;
    }
    for (int i = 0; i < t->cfg.capacity; i++) {
        t->free_ix[t->n_free++] = t->cfg.capacity - 1 - i;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, watchdog, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        rc = nn_err_set(err, NN_EIO, "cannot start the connection watchdog");
        goto fail;
    }
    *out = t;
    return 0;
fail:
    nn_free(t->free_ix);
    nn_free(t->slots);
    nn_free(t);
    return rc;
}

void srv_conns_free(struct srv_conns *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->stop = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    nn_free(t->free_ix);
    nn_free(t->slots);
    nn_free(t);
}

struct srv_conn *srv_conns_open(struct srv_conns *t, int fd)
{
    struct srv_conn *c = NULL;

    pthread_mutex_lock(&t->lock);
    if (t->n_free == 0) {
        shutdown(fd, SHUT_RDWR);
        t->refused++;
        goto out;
    }
    c = &t->slots[t->free_ix[--t->n_free]];
    *c = (struct srv_conn){fd, 1, 0, PH_WAIT, now_ms(), 0, 0};
    t->live++;
    if (t->live > t->cfg.limit) {
        /* the oldest one waiting for headers (an idle keep-alive or a slow client) or sending
         * its body below the minimum rate; the new connection itself when there is none
         * (then it is refused, as at a plain limit) */
        struct srv_conn *oldest = NULL;
        long long now = c->since_ms;
        for (int i = 0; i < t->cfg.capacity; i++) {
            struct srv_conn *o = &t->slots[i];
            if (o->used && !o->shut && evictable(t, o, now) &&
                (oldest == NULL || o->since_ms < oldest->since_ms)) {
                oldest = o;
            }
        }
        shut(t, oldest); /* never NULL: c itself waits */
        if (oldest == c) {
            t->refused++;
        } else {
            t->evicted++;
        }
    }
out:
    pthread_mutex_unlock(&t->lock);
    return c;
}

void srv_conns_close(struct srv_conns *t, struct srv_conn *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (!c->shut) {
        t->live--;
    }
    c->used = 0;
    t->free_ix[t->n_free++] = (int)(c - t->slots);
    pthread_mutex_unlock(&t->lock);
}

/* Moves c to phase ph; a wait or a body starts its clock now. */
static void set_phase(struct srv_conns *t, struct srv_conn *c, enum phase ph)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    c->phase = ph;
    if (ph != PH_BUSY) {
        c->since_ms = c->last_ms = now_ms();
        c->received = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

void srv_conns_request(struct srv_conns *t, struct srv_conn *c, int has_body)
{
    set_phase(t, c, has_body ? PH_BODY : PH_BUSY);
}

void srv_conns_body(struct srv_conns *t, struct srv_conn *c, size_t n)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&t->lock);
    c->received += n;
    c->last_ms = now_ms();
    pthread_mutex_unlock(&t->lock);
}

void srv_conns_busy(struct srv_conns *t, struct srv_conn *c)
{
    set_phase(t, c, PH_BUSY);
}

void srv_conns_idle(struct srv_conns *t, struct srv_conn *c)
{
    set_phase(t, c, PH_WAIT);
}

void srv_conns_counts(struct srv_conns *t, unsigned long *timed_out, unsigned long *evicted,
                      unsigned long *refused)
{
    pthread_mutex_lock(&t->lock);
    *timed_out = t->timed_out;
    *evicted = t->evicted;
    *refused = t->refused;
    pthread_mutex_unlock(&t->lock);
}
