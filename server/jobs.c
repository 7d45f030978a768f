/*
 * jobs: worker threads, a FIFO of job ids (a linked list of nodes allocated when a slot is
 * reserved, so committing cannot fail), and one cancel flag per worker.
 */
#include "jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

#define ID_MAX 64

struct srv_jobs_slot {
    char id[ID_MAX];
    int adopted; /* pushed by srv_jobs_adopt: not counted against the queue's bound */
    struct srv_jobs_slot *next;
};

/* A batch of units a running job shares with the idle workers (srv_jobs_run_units). */
struct batch {
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    size_t next;         /* the next unit to hand out; guarded by pool->lock */
    size_t done;         /* units finished; guarded by pool->lock */
    pthread_cond_t cond; /* signalled when done reaches n */
    struct batch *link;  /* the pool's list of batches; guarded by pool->lock */
};

struct worker {
    struct srv_jobs *pool;
    pthread_t thread;
    int started;
    char id[ID_MAX];   /* the job being run, "" when idle; guarded by pool->lock */
    atomic_int cancel; /* SRV_JOBS_CANCEL_*; written under pool->lock, read by nn */
    char *board;       /* the running auto job's leaderboard (JSON); guarded by pool->lock */
};

struct srv_jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;               /* signalled on push and on stop */
    struct srv_jobs_slot *head, *tail; /* guarded by lock */
    long queued;                       /* nodes in the list; guarded by lock */
    long adopted;                      /* adopted nodes among them; guarded by lock */
    long reserved;                     /* reserved, not yet committed; guarded by lock */
    long busy;                         /* guarded by lock */
    int stopping;                      /* guarded by lock */
    struct batch *batches;             /* with units left to hand out; guarded by lock */
    int capacity;
    int n_workers;
    struct worker *workers;
    srv_jobs_run_fn run;
    void *ud;
};

/* Takes the next unit of b and runs it with the lock released; b leaves the list once its
 * last unit is handed out. Called and returns with j->lock held. */
static void run_one_unit_locked(struct srv_jobs *j, struct batch *b)
{
    size_t i = b->next++;

    if (b->next == b->n) {
        struct batch **at = &j->batches;

        while (*at != b) {
            at = &(*at)->link;
        }
        *at = b->link;
    }
    pthread_mutex_unlock(&j->lock);
    b->fn(b->ctx, i);
    pthread_mutex_lock(&j->lock);
    if (++b->done == b->n) {
        pthread_cond_signal(&b->cond);
    }
}

void srv_jobs_run_units(struct srv_jobs *j, size_t n, void (*fn)(void *ctx, size_t i), void *ctx)
{
    struct batch b = {fn, ctx, n, 0, 0, PTHREAD_COND_INITIALIZER, NULL};

    if (n == 0) {
        return;
    }
    pthread_mutex_lock(&j->lock);
    b.link = j->batches; /* newest first: its units wait the least behind older batches */
    j->batches = &b;
    pthread_cond_broadcast(&j->cond);
    while (b.next < b.n) {
        run_one_unit_locked(j, &b);
    }
    while (b.done < b.n) {
        pthread_cond_wait(&b.cond, &j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    pthread_cond_destroy(&b.cond);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct srv_jobs *j = w->pool;
    char id[ID_MAX];

    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (!j->stopping && j->head == NULL && j->batches == NULL) {
            pthread_cond_wait(&j->cond, &j->lock);
        }
        if (j->stopping) {
            pthread_mutex_unlock(&j->lock);
            break;
        }
        if (j->head == NULL) { /* no job waits: help a running job with one unit */
            run_one_unit_locked(j, j->batches);
            pthread_mutex_unlock(&j->lock);
            continue;
        }
        struct srv_jobs_slot *s = j->head;
        j->head = s->next;
        if (j->head == NULL) {
            j->tail = NULL;
        }
        j->queued--;
        j->adopted -= s->adopted;
        memcpy(w->id, s->id, ID_MAX);
        memcpy(id, s->id, ID_MAX);
        atomic_store(&w->cancel, 0);
        j->busy++;
        pthread_mutex_unlock(&j->lock);
        nn_free(s);

        j->run(j->ud, id, &w->cancel);

        pthread_mutex_lock(&j->lock);
        w->id[0] = '\0';
        nn_free(w->board);
        w->board = NULL;
        j->busy--;
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

int srv_jobs_new(int workers, int queue_size, srv_jobs_run_fn run, void *ud, struct srv_jobs **out,
                 struct nn_err *err)
{
    struct srv_jobs *j = NULL;
    int rc;

    *out = NULL;
    if (workers < 1 || queue_size < 0 || run == NULL) {
        return nn_err_set(err, NN_EINVAL, "jobs: need at least one worker");
    }
    j = nn_calloc(1, sizeof(*j));
    if (j == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the job pool");
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->capacity = queue_size;
    j->run = run;
    j->ud = ud;
    j->workers = nn_calloc((size_t)workers, sizeof(*j->workers));
    if (j->workers == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory for the job pool");
        goto fail;
    }
    j->n_workers = workers;
    for (int i = 0; i < workers; i++) {
        j->workers[i].pool = j;
        atomic_init(&j->workers[i].cancel, 0);
        if (pthread_create(&j->workers[i].thread, NULL, worker_main, &j->workers[i]) != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "cannot start worker thread %d", i);
            goto fail;
        }
        j->workers[i].started = 1;
    }
    *out = j;
    return 0;
fail:
    srv_jobs_free(j);
    return rc;
}

void srv_jobs_stop(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    j->stopping = 1;
    for (int i = 0; i < j->n_workers; i++) {
        if (j->workers[i].id[0] != '\0') {
            atomic_store(&j->workers[i].cancel, SRV_JOBS_CANCEL_STOP);
        }
    }
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->n_workers; i++) {
        if (j->workers[i].started) {
            pthread_join(j->workers[i].thread, NULL);
            j->workers[i].started = 0;
        }
    }
}

void srv_jobs_free(struct srv_jobs *j)
{
    if (j == NULL) {
        return;
    }
    if (j->workers != NULL) {
        srv_jobs_stop(j);
    }
    struct srv_jobs_slot *s = j->head;
    while (s != NULL) {
        struct srv_jobs_slot *next = s->next;
        nn_free(s);
        s = next;
    }
    nn_free(j->workers);
    pthread_cond_destroy(&j->cond);
    pthread_mutex_destroy(&j->lock);
    nn_free(j);
}

int srv_jobs_reserve(struct srv_jobs *j, struct srv_jobs_slot **slot, struct nn_err *err)
{
    struct srv_jobs_slot *s = nn_calloc(1, sizeof(*s));

    *slot = NULL;
    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the job queue");
    }
    pthread_mutex_lock(&j->lock);
    if (j->stopping || j->queued - j->adopted + j->reserved >= j->capacity) {
        int stopping = j->stopping;
        pthread_mutex_unlock(&j->lock);
        nn_free(s);
        if (stopping) {
            return nn_err_set(err, NN_ERANGE, "the daemon is stopping");
        }
        return nn_err_set(err, NN_ERANGE, "the job queue is full (%d jobs waiting)", j->capacity);
    }
    j->reserved++;
    pthread_mutex_unlock(&j->lock);
    *slot = s;
    return 0;
}

static void push_locked(struct srv_jobs *j, struct srv_jobs_slot *s)
{
    s->next = NULL;
    if (j->tail != NULL) {
        j->tail->next = s;
    } else {
        j->head = s;
    }
    j->tail = s;
    j->queued++;
    pthread_cond_signal(&j->cond);
}

void srv_jobs_commit(struct srv_jobs *j, struct srv_jobs_slot *slot, const char *id)
{
    snprintf(slot->id, sizeof(slot->id), "%s", id);
    pthread_mutex_lock(&j->lock);
    j->reserved--;
    push_locked(j, slot);
    pthread_mutex_unlock(&j->lock);
}

void srv_jobs_unreserve(struct srv_jobs *j, struct srv_jobs_slot *slot)
{
    if (slot == NULL) {
        return;
    }
    pthread_mutex_lock(&j->lock);
    j->reserved--;
    pthread_mutex_unlock(&j->lock);
    nn_free(slot);
}

int srv_jobs_push_recovered(struct srv_jobs *j, const char *id, struct nn_err *err)
{
    struct srv_jobs_slot *s = nn_calloc(1, sizeof(*s));

    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the job queue");
    }
    snprintf(s->id, sizeof(s->id), "%s", id);
    pthread_mutex_lock(&j->lock);
    push_locked(j, s);
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* Whether the pool runs or queues id. Caller holds j->lock. */
static int holds_locked(struct srv_jobs *j, const char *id)
{
    for (int i = 0; i < j->n_workers; i++) {
        if (strcmp(j->workers[i].id, id) == 0) {
            return 1;
        }
    }
    for (struct srv_jobs_slot *s = j->head; s != NULL; s = s->next) {
        if (strcmp(s->id, id) == 0) {
            return 1;
        }
    }
    return 0;
}

int srv_jobs_adopt(struct srv_jobs *j, const char *id, struct nn_err *err)
{
    struct srv_jobs_slot *s = nn_calloc(1, sizeof(*s));

    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the job queue");
    }
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->adopted = 1;
    pthread_mutex_lock(&j->lock);
    int held = j->stopping || holds_locked(j, id);
    if (!held) {
        j->adopted++;
        push_locked(j, s);
    }
    pthread_mutex_unlock(&j->lock);
    if (held) {
        nn_free(s);
    }
    return held ? 0 : 1;
}

int srv_jobs_cancel(struct srv_jobs *j, const char *id)
{
    struct srv_jobs_slot *gone = NULL;
    int held = 0;

    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->n_workers; i++) {
        if (strcmp(j->workers[i].id, id) == 0) {
            atomic_store(&j->workers[i].cancel, SRV_JOBS_CANCEL_USER);
            held = 1;
        }
    }
    struct srv_jobs_slot *prev = NULL;
    for (struct srv_jobs_slot *s = j->head; s != NULL; prev = s, s = s->next) {
        if (strcmp(s->id, id) == 0) {
            if (prev != NULL) {
                prev->next = s->next;
            } else {
                j->head = s->next;
            }
            if (j->tail == s) {
                j->tail = prev;
            }
            j->queued--;
            j->adopted -= s->adopted;
            gone = s;
            held = 1;
            break;
        }
    }
    pthread_mutex_unlock(&j->lock);
    nn_free(gone);
    return held;
}

long srv_jobs_depth(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    long n = j->queued + j->reserved;
    pthread_mutex_unlock(&j->lock);
    return n;
}

long srv_jobs_busy(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    long n = j->busy;
    pthread_mutex_unlock(&j->lock);
    return n;
}

int srv_jobs_idle(struct srv_jobs *j)
{
    pthread_mutex_lock(&j->lock);
    int n = j->n_workers - (int)j->busy;
    pthread_mutex_unlock(&j->lock);
    return n < 0 ? 0 : n;
}

int srv_jobs_board_set(struct srv_jobs *j, const char *id, const char *json)
{
    char *copy = nn_strdup(json);
    int held = 0;

    if (copy == NULL) {
        return NN_ENOMEM;
    }
    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->n_workers && !held; i++) {
        if (strcmp(j->workers[i].id, id) == 0) {
            nn_free(j->workers[i].board);
            j->workers[i].board = copy;
            held = 1;
        }
    }
    pthread_mutex_unlock(&j->lock);
    if (!held) {
        nn_free(copy);
    }
    return 0;
}

char *srv_jobs_board_dup(struct srv_jobs *j, const char *id)
{
    char *out = NULL;

    pthread_mutex_lock(&j->lock);
    for (int i = 0; i < j->n_workers; i++) {
        if (j->workers[i].board != NULL && strcmp(j->workers[i].id, id) == 0) {
            out = nn_strdup(j->workers[i].board);
            break;
        }
    }
    pthread_mutex_unlock(&j->lock);
    return out;
}
