/*
 * cmd_health: `neurond health [--url http://127.0.0.1:8080] [--timeout 3]` — asks a running
 * daemon whether it serves: one HTTP/1.1 GET of /healthz over a plain socket, exit 0 on a 200.
 *
 * Why a subcommand and not curl: the Docker image's HEALTHCHECK runs this, so the runtime
 * image needs no curl or wget (and none of their libraries). It speaks just enough HTTP for
 * that one request: no TLS, no redirects, no chunked decoding (only the status line counts).
 * The whole exchange — name lookup aside — is bounded by one deadline, so a hung daemon makes
 * the check fail instead of piling up probes.
 * Default target: 127.0.0.1 (or NEUROND_BIND when it names one address) on NEUROND_PORT or
 * 8080, so the check follows the same variables as `neurond serve` inside a container.
 * Exit status: 0 healthy (the body is printed), 1 unhealthy or unreachable (one line on
 * stderr), 2 bad usage. Thread-safety: single-threaded program code.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HEALTH_OK    0 /* the same values as cli.h's CLI_OK, CLI_ERR, CLI_USAGE */
#define HEALTH_ERR   1
#define HEALTH_USAGE 2

#define HEALTH_HOST_MAX  256
#define HEALTH_PATH_MAX  1024
#define HEALTH_REPLY_MAX 4096

/**
 * The `neurond health` subcommand (also declared in cli.h with the others).
 * @param argc, argv [in] argv[0] is "health"; then --url URL and --timeout SECONDS.
 * @return 0 when the daemon answered 200, 1 otherwise, 2 for bad usage.
 * Thread-safety: single-threaded program code.
 */
int cli_health(int argc, char **argv);

struct target {
    char host[HEALTH_HOST_MAX]; /* without the brackets of an IPv6 literal */
    char port[8];
    char path[HEALTH_PATH_MAX];
    int v6_literal; /* the Host header needs brackets again */
};

static const char usage[] =
    "usage: neurond health [--url http://HOST:PORT[/PATH]] [--timeout SECONDS]\n"
    "  GET PATH (default /healthz) and exit 0 when the reply is 200; 1 otherwise.\n"
    "  Default URL: http://127.0.0.1:$NEUROND_PORT (8080 when unset); default timeout 3 s.\n";

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline, at least 0, for poll(). */
static int left_ms(long long deadline)
{
    long long left = deadline - now_ms();

    if (left < 0) {
        return 0;
    }
    return left > 600000 ? 600000 : (int)left;
}

/* Checks a port string: 1 to 65535, digits only. Returns 0 or -1. */
static int check_port(const char *s, size_t len)
{
    long v = 0;
    size_t i;

    if (len == 0 || len > 5) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? 0 : -1;
}

/*
 * Splits "http://host[:port][/path]" into t. An empty path or "/" becomes /healthz.
 * Returns 0, or -1 with a message in msg for a URL this client cannot use.
 */
static int parse_url(const char *url, struct target *t, char *msg, size_t msg_len)
{
    const char *p, *host, *host_end, *port = NULL, *auth_end;
    size_t host_len, port_len = 0;

    memset(t, 0, sizeof(*t));
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(msg, msg_len, "only http:// URLs are supported");
        return -1;
    }
    p = url + 7;
    auth_end = p + strcspn(p, "/?#");
    if (*p == '[') {
        t->v6_literal = 1;
        host = p + 1;
        host_end = memchr(host, ']', (size_t)(auth_end - host));
        if (host_end == NULL) {
            snprintf(msg, msg_len, "unclosed '[' in the host");
            return -1;
        }
        if (host_end + 1 < auth_end) {
            if (host_end[1] != ':') {
                snprintf(msg, msg_len, "bad text after ']' in the host");
                return -1;
            }
            port = host_end + 2;
        }
    } else {
        host = p;
        host_end = memchr(host, ':', (size_t)(auth_end - host));
        if (host_end != NULL) {
            port = host_end + 1;
        } else {
            host_end = auth_end;
        }
    }
    host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof(t->host) || memchr(host, '@', host_len) != NULL) {
        snprintf(msg, msg_len, "missing or bad host");
        return -1;
    }
    memcpy(t->host, host, host_len);
    if (port != NULL) {
        port_len = (size_t)(auth_end - port);
        if (check_port(port, port_len) != 0) {
            snprintf(msg, msg_len, "bad port");
            return -1;
        }
        memcpy(t->port, port, port_len);
    } else {
        strcpy(t->port, "80");
    }
    if (*auth_end == '\0' || strcmp(auth_end, "/") == 0) {
        strcpy(t->path, "/healthz");
    } else if (*auth_end != '/') {
        snprintf(msg, msg_len, "the path must start with '/'");
        return -1;
    } else if (strlen(auth_end) >= sizeof(t->path) || strpbrk(auth_end, " \r\n") != NULL) {
        snprintf(msg, msg_len, "bad path");
        return -1;
    } else {
        strcpy(t->path, auth_end);
    }
    return 0;
}

/* The URL used when --url is not given, from NEUROND_BIND and NEUROND_PORT. */
static void default_url(char *url, size_t len)
{
    const char *bind = getenv("NEUROND_BIND");
    const char *port = getenv("NEUROND_PORT");
    const char *host = "127.0.0.1";
    int v6;

    if (bind != NULL && *bind != '\0' && strcmp(bind, "0.0.0.0") != 0 && strcmp(bind, "::") != 0 &&
        strcmp(bind, "[::]") != 0) {
        host = bind;
    }
    if (port == NULL || *port == '\0') {
        port = "8080";
    }
    v6 = strchr(host, ':') != NULL && host[0] != '[';
    snprintf(url, len, "http://%s%s%s:%s/healthz", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* Waits until fd is ready for events before the deadline. Returns 0, or -1 (errno set). */
static int wait_fd(int fd, short events, long long deadline)
{
    struct pollfd pfd;
    int n;

    pfd.fd = fd;
    pfd.events = events;
    do {
        n = poll(&pfd, 1, left_ms(deadline));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return n < 0 ? -1 : 0;
}

/*
 * Connects to one address before the deadline. Returns the connected non-blocking socket,
 * or -1 with errno set (ETIMEDOUT when the deadline passed). Ownership: the caller closes it.
 */
static int connect_one(const struct addrinfo *ai, long long deadline)
{
    socklen_t elen = sizeof(int);
    int fd, flags, soerr = 0, saved;

    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        return -1;
    }
    flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        goto fail;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        goto fail;
    }
    if (wait_fd(fd, POLLOUT, deadline) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0) {
        goto fail;
    }
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;

fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* Sends all of buf before the deadline. Returns 0, or -1 (errno set). */
static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0) {
                return -1;
            }
        } else {
            return -1;
        }
    }
    return 0;
}

/*
 * Reads the reply into buf (at most cap - 1 bytes, NUL-terminated) until the peer closes,
 * the buffer is full, or the deadline passes after the status line has arrived.
 * Returns the length, or -1 (errno set) when not even a status line came back.
 */
static long recv_reply(int fd, char *buf, size_t cap, long long deadline)
{
    size_t len = 0;

    buf[0] = '\0';
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);

        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
        } else if (n == 0) {
            break;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait_fd(fd, POLLIN, deadline) != 0) {
                if (strstr(buf, "\r\n") != NULL) {
                    break; /* keep what came: the status line is all that counts */
                }
                return -1;
            }
        } else {
            return -1;
        }
    }
    return (long)len;
}

/*
 * Parses "HTTP/1.x NNN ..." at the start of reply. Returns the status, or -1 when the reply
 * is not HTTP.
 */
static int parse_status(const char *reply)
{
    int status = 0, i;

    if (strncmp(reply, "HTTP/1.", 7) != 0 || reply[7] == '\0' || reply[8] != ' ') {
        return -1;
    }
    for (i = 9; i < 12; i++) {
        if (reply[i] < '0' || reply[i] > '9') {
            return -1;
        }
        status = status * 10 + (reply[i] - '0');
    }
    return status;
}

/*
 * Does the GET and fills *status. Returns 0, or -1 with a message in msg. The body (after
 * the headers) is copied into body, truncated to body_len - 1.
 */
static int http_get(const struct target *t, double timeout, int *status, char *body,
                    size_t body_len, char *msg, size_t msg_len)
{
    struct addrinfo hints, *res = NULL, *ai;
    char req[HEALTH_PATH_MAX + HEALTH_HOST_MAX + 128], reply[HEALTH_REPLY_MAX];
    const char *b;
    long long deadline = now_ms() + (long long)(timeout * 1000.0);
    long n;
    int fd = -1, rc, req_len, st, last_errno = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) {
        snprintf(msg, msg_len, "cannot resolve %s: %s", t->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        if (fd < 0) {
            last_errno = errno;
        }
    }
    if (fd < 0) {
        snprintf(msg, msg_len, "cannot connect: %s", strerror(last_errno));
        goto fail;
    }
    req_len =
        snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: neurond-health\r\n"
                 "Accept: application/json\r\nConnection: close\r\n\r\n",
                 t->path, t->v6_literal ? "[" : "", t->host, t->v6_literal ? "]" : "", t->port);
    if (req_len < 0 || (size_t)req_len >= sizeof(req)) {
        snprintf(msg, msg_len, "request too long");
        goto fail;
    }
    if (send_all(fd, req, (size_t)req_len, deadline) != 0) {
        snprintf(msg, msg_len, "cannot send the request: %s", strerror(errno));
        goto fail;
    }
    n = recv_reply(fd, reply, sizeof(reply), deadline);
    if (n < 0) {
        snprintf(msg, msg_len, "no reply: %s", strerror(errno));
        goto fail;
    }
    st = parse_status(reply);
    if (st < 0) {
        snprintf(msg, msg_len, "not an HTTP reply");
        goto fail;
    }
    b = strstr(reply, "\r\n\r\n");
    snprintf(body, body_len, "%s", b != NULL ? b + 4 : "");
    close(fd);
    freeaddrinfo(res);
    *status = st;
    return 0;

fail:
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
    return -1;
}

int cli_health(int argc, char **argv)
{
    char url_buf[HEALTH_HOST_MAX + 64], msg[512], body[HEALTH_REPLY_MAX];
    const char *url = NULL;
    struct target t;
    double timeout = 3.0;
    int i, status = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return HEALTH_OK;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            url = argv[++i];
        } else if (strncmp(argv[i], "--url=", 6) == 0) {
            url = argv[i] + 6;
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            char *end;

            timeout = strtod(argv[++i], &end);
            if (*end != '\0' || !(timeout > 0 && timeout <= 600)) {
                fputs("neurond: health: --timeout takes seconds, more than 0, at most 600\n",
                      stderr);
                return HEALTH_USAGE;
            }
        } else {
            fprintf(stderr, "neurond: health: unknown option '%s'\n%s", argv[i], usage);
            return HEALTH_USAGE;
        }
    }
    if (url == NULL) {
        default_url(url_buf, sizeof(url_buf));
        url = url_buf;
    }
    if (parse_url(url, &t, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "neurond: health: %s: %s\n", url, msg);
        return HEALTH_USAGE;
    }
    if (http_get(&t, timeout, &status, body, sizeof(body), msg, sizeof(msg)) != 0) {
        fprintf(stderr, "neurond: health: %s: %s\n", url, msg);
        return HEALTH_ERR;
    }
    if (status != 200) {
        fprintf(stderr, "neurond: health: %s: HTTP %d\n", url, status);
        return HEALTH_ERR;
    }
    fputs(body, stdout);
    if (body[0] != '\0' && body[strlen(body) - 1] != '\n') {
        fputc('\n', stdout);
    }
    return HEALTH_OK;
}
