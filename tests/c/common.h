/* Shared helpers for the streamkit C tests. */
#ifndef SK_TEST_COMMON_H
#define SK_TEST_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "streamkit.h"

/* Under valgrind everything is ~20x slower: SK_TEST_SLOW=N scales waits. */
static inline int slow_factor(void) {
    const char *s = getenv("SK_TEST_SLOW");
    int n = s ? atoi(s) : 1;
    return n > 0 ? n : 1;
}

static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static inline const char *rc_name(sk_result r) {
    switch (r) {
    case SK_OK: return "SK_OK";
    case SK_ERR_INVALID: return "SK_ERR_INVALID";
    case SK_ERR_CLOSED: return "SK_ERR_CLOSED";
    case SK_ERR_TIMEOUT: return "SK_ERR_TIMEOUT";
    case SK_ERR_NO_PEER: return "SK_ERR_NO_PEER";
    case SK_ERR_IO: return "SK_ERR_IO";
    case SK_ERR_AUTH: return "SK_ERR_AUTH";
    case SK_ERR_PROTOCOL: return "SK_ERR_PROTOCOL";
    case SK_ERR_EOF: return "SK_ERR_EOF";
    case SK_ERR_INTERNAL: return "SK_ERR_INTERNAL";
    }
    return "?";
}

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: CHECK failed: %s (sk_last_error: %s)\n", __FILE__, \
                    __LINE__, #cond, sk_last_error());                                    \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

/* The call must return `want`; for failures the message must contain `substr` (may be NULL). */
#define EXPECT_MSG(call, want, substr)                                                          \
    do {                                                                                        \
        sk_result r_ = (call);                                                                  \
        if (r_ != (want)) {                                                                     \
            fprintf(stderr, "  %s:%d: %s returned %s, want %s (sk_last_error: %s)\n", __FILE__, \
                    __LINE__, #call, rc_name(r_), rc_name(want), sk_last_error());              \
            return 1;                                                                           \
        }                                                                                       \
        const char *s_ = (substr);                                                              \
        if (s_ && !strstr(sk_last_error(), s_)) {                                               \
            fprintf(stderr, "  %s:%d: %s: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,   \
                    #call, sk_last_error(), s_);                                                \
            return 1;                                                                           \
        }                                                                                       \
    } while (0)

#define EXPECT(call, want) EXPECT_MSG(call, want, NULL)
#define OK(call) EXPECT(call, SK_OK)

/* A test is `static int name(void)` returning 0 on success. */
typedef struct {
    const char *name;
    int (*fn)(void);
} test_case;

static inline int run_tests(const char *suite, const test_case *tests, size_t n, int argc, char **argv) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        double t0 = now_ms();
        int rc = tests[i].fn();
        if (rc == 0) {
            passed++;
            printf("ok   %s (%.0f ms)\n", tests[i].name, now_ms() - t0);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

/* Create a peer with a fresh key, a name, and a connect timeout suited to the run. */
static inline int new_peer(sk_peer **out, const char *name) {
    sk_peer *p = NULL;
    char *key = NULL;
    OK(sk_peer_new(&p));
    OK(sk_generate_key(&key));
    OK(sk_peer_set_option_str(p, SK_OPT_PRIVATE_KEY, key));
    sk_string_free(key);
    OK(sk_peer_set_option_str(p, SK_OPT_NAME, name));
    OK(sk_peer_set_option_int(p, SK_OPT_CONNECT_TIMEOUT, 10000 * slow_factor()));
    OK(sk_peer_set_option_int(p, SK_OPT_HANDSHAKE_TIMEOUT, 10000 * slow_factor()));
    *out = p;
    return 0;
}

/* Make `a` and `b` trust each other's key. */
static inline int trust_each_other(sk_peer *a, sk_peer *b) {
    char *ka = NULL, *kb = NULL;
    OK(sk_peer_public_key(a, &ka));
    OK(sk_peer_public_key(b, &kb));
    CHECK(strncmp(ka, "ssh-ed25519 ", 12) == 0);
    OK(sk_peer_set_option_str(a, SK_OPT_AUTHORIZED_KEYS, kb));
    OK(sk_peer_set_option_str(b, SK_OPT_AUTHORIZED_KEYS, ka));
    sk_string_free(ka);
    sk_string_free(kb);
    return 0;
}

/* Wait (up to 5 s, scaled) until `p` lists exactly `want` connected peers. */
static inline int wait_peer_count(sk_peer *p, size_t want) {
    for (int i = 0; i < 500 * slow_factor(); i++) {
        sk_strlist l = {0};
        OK(sk_peer_peers(p, &l));
        size_t len = l.len;
        sk_strlist_free(&l);
        if (len == want) return 0;
        usleep(10000);
    }
    fprintf(stderr, "  peer list never reached %zu entries\n", want);
    return 1;
}

typedef struct {
    sk_peer *a; /* bound side, named "a" */
    sk_peer *b; /* connecting side, named "b" */
    char *endpoint;
} pair;

/* Two trusting peers; a binds `endpoint`, b connects to what a bound. */
static inline int make_pair(pair *pp, const char *endpoint) {
    memset(pp, 0, sizeof *pp);
    if (new_peer(&pp->a, "a") || new_peer(&pp->b, "b")) return 1;
    if (trust_each_other(pp->a, pp->b)) return 1;
    OK(sk_peer_bind(pp->a, endpoint, &pp->endpoint));
    OK(sk_peer_connect(pp->b, pp->endpoint));
    return 0;
}

static inline void free_pair(pair *pp) {
    sk_peer_free(pp->a);
    sk_peer_free(pp->b);
    sk_string_free(pp->endpoint);
    memset(pp, 0, sizeof *pp);
}

/* b opens `service` to a; a accepts. */
static inline int open_accept(pair *pp, const char *service, sk_channel **cb, sk_channel **ca) {
    OK(sk_peer_open(pp->b, "a", service, NULL, 0, cb));
    OK(sk_peer_accept(pp->a, 5000 * slow_factor(), ca));
    return 0;
}

/* Read exactly `len` bytes. */
static inline int read_full(sk_channel *c, uint8_t *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        OK(sk_channel_read(c, buf + got, len - got, &n, 5000 * slow_factor()));
        CHECK(n > 0);
        got += n;
    }
    return 0;
}

#endif
