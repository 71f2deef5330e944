/* Scenario 7 of streamkit-bench, through the C ABI (include/streamkit.h).
 *
 *   bench bulk BYTES       one channel, BYTES in 64 KiB sk_channel_write calls,
 *                          read with sk_channel_read into a 256 KiB buffer
 *   bench frames SECS      64-byte frames one way for SECS seconds, read with
 *                          sk_channel_read_frame (one call and one sk_buf per frame)
 *   bench rtt WARM N       64-byte frame echo, N timed round trips after WARM
 *
 * One process, two peers ("server" bound on tcp://127.0.0.1:0 and "client"
 * connected to it, each with its own fresh key, trusting each other), one
 * channel between them; the writer and the reader (or the echo side) are two
 * threads. Every byte and every frame is verified exactly as in the Rust
 * scenarios (bench/src/util.rs: the same pattern and the same frames), so
 * the figures are comparable with the streamkit-core rows.
 *
 * Prints one line on stdout, "RESULT metric value [metric value ...]", and
 * exits 0; on any failure prints "ERROR ..." on stderr and exits 1.
 *
 * Built by streamkit-bench at run time (bench/src/bindings.rs):
 *   cc -O2 -Wall -o bench bench/c/bench.c -Iinclude TARGET/release/libstreamkit.a \
 *      -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "streamkit.h"

#define PERIOD 999983u
#define MAX_SLICE (1u << 20)
#define WRITE (64u * 1024u)
#define READ_BUF (256u * 1024u)
#define FRAME 64u

static uint8_t *pat;

static void die(const char *what, sk_result r) {
    fprintf(stderr, "ERROR %s: %d %s\n", what, (int)r, sk_last_error());
    exit(1);
}
#define CK(call) do { sk_result r_ = (call); if (r_ != SK_OK) die(#call, r_); } while (0)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

static void make_pattern(void) {
    pat = malloc(PERIOD + MAX_SLICE);
    if (!pat) { fprintf(stderr, "ERROR out of memory\n"); exit(1); }
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pat[i] = (uint8_t)(x >> 24);
    }
    for (uint32_t i = 0; i < MAX_SLICE; i++) pat[PERIOD + i] = pat[i]; /* periodic, like util.rs */
}

static void make_frame(uint64_t seq, uint8_t *f) {
    for (int i = 0; i < 8; i++) f[i] = (uint8_t)(seq >> (8 * i));
    uint8_t s = (uint8_t)seq;
    for (unsigned i = 8; i < FRAME; i++) f[i] = (uint8_t)(s * 31u + i);
}

static void check_frame(const sk_buf *b, uint64_t seq, const char *who) {
    uint8_t want[FRAME];
    make_frame(seq, want);
    if (b->len != FRAME || memcmp(b->data, want, FRAME) != 0) {
        fprintf(stderr, "ERROR %s: frame %" PRIu64 " wrong (%zu bytes)\n", who, seq, b->len);
        exit(1);
    }
}

/* ---- setup ---- */

static sk_peer *keyed_peer(const char *name) {
    sk_peer *p;
    char *key;
    CK(sk_peer_new(&p));
    CK(sk_peer_set_option_str(p, SK_OPT_NAME, name));
    CK(sk_generate_key(&key));
    CK(sk_peer_set_option_str(p, SK_OPT_PRIVATE_KEY, key));
    sk_string_free(key);
    return p;
}

static sk_peer *server, *client;
static sk_channel *ca, *cb; /* client end (a), server end (b) */

static void setup(void) {
    server = keyed_peer("server");
    client = keyed_peer("client");
    char *k1, *k2, *bound;
    CK(sk_peer_public_key(server, &k1));
    CK(sk_peer_public_key(client, &k2));
    size_t n = strlen(k1) + strlen(k2) + 3;
    char *keys = malloc(n);
    snprintf(keys, n, "%s\n%s\n", k1, k2);
    CK(sk_peer_set_option_str(server, SK_OPT_AUTHORIZED_KEYS, keys));
    CK(sk_peer_set_option_str(client, SK_OPT_AUTHORIZED_KEYS, keys));
    free(keys);
    sk_string_free(k1);
    sk_string_free(k2);
    CK(sk_peer_bind(server, "tcp://127.0.0.1:0", &bound));
    CK(sk_peer_connect(client, bound));
    sk_string_free(bound);
    CK(sk_peer_open(client, "server", "bench", NULL, 0, &ca));
    CK(sk_peer_accept(server, 10000, &cb));
}

static void teardown(void) {
    sk_channel_free(ca);
    sk_channel_free(cb);
    sk_peer_shutdown(client);
    sk_peer_shutdown(server);
    sk_peer_free(client);
    sk_peer_free(server);
}

/* ---- scenario 1: bulk ---- */

static uint64_t bulk_total;

static void *bulk_writer(void *arg) {
    (void)arg;
    uint64_t off = 0;
    while (off < bulk_total) {
        size_t n = bulk_total - off < WRITE ? (size_t)(bulk_total - off) : WRITE;
        size_t w;
        CK(sk_channel_write(ca, pat + off % PERIOD, n, &w));
        off += n;
    }
    CK(sk_channel_close_write(ca));
    return NULL;
}

static void bulk(uint64_t total) {
    bulk_total = total;
    uint8_t *buf = malloc(READ_BUF);
    pthread_t t;
    double c0 = cpu_seconds(), t0 = now();
    pthread_create(&t, NULL, bulk_writer, NULL);
    uint64_t off = 0;
    for (;;) {
        size_t n;
        CK(sk_channel_read(cb, buf, READ_BUF, &n, -1));
        if (n == 0) break;
        if (memcmp(buf, pat + off % PERIOD, n) != 0) {
            fprintf(stderr, "ERROR byte stream corrupted near offset %" PRIu64 "\n", off);
            exit(1);
        }
        off += n;
    }
    double dt = now() - t0, cpu = cpu_seconds() - c0;
    pthread_join(t, NULL);
    if (off != total) {
        fprintf(stderr, "ERROR received %" PRIu64 " bytes, sent %" PRIu64 "\n", off, total);
        exit(1);
    }
    free(buf);
    printf("RESULT MB/s %.1f CPU_s %.3f\n", (double)total / dt / 1e6, cpu);
}

/* ---- scenario 2: frames one way ---- */

static double frames_deadline;
static uint64_t frames_sent;

static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double writer_busy; /* the writer thread's CPU time / its wall time */

static void *frames_writer(void *arg) {
    (void)arg;
    double c0 = thread_cpu(), w0 = now();
    uint64_t seq = 0;
    uint8_t f[FRAME];
    for (;;) {
        for (int i = 0; i < 256; i++) {
            make_frame(seq, f);
            CK(sk_channel_write_frame(ca, f, FRAME));
            seq++;
        }
        if (now() >= frames_deadline) break;
    }
    CK(sk_channel_close_write(ca));
    writer_busy = (thread_cpu() - c0) / (now() - w0);
    frames_sent = seq;
    return NULL;
}

static void frames(double secs) {
    pthread_t t;
    double t0 = now(), rc0 = thread_cpu();
    frames_deadline = t0 + secs;
    pthread_create(&t, NULL, frames_writer, NULL);
    uint64_t n = 0;
    sk_buf b = {NULL, 0};
    for (;;) {
        sk_result r = sk_channel_read_frame(cb, &b, -1);
        if (r == SK_ERR_EOF) break;
        if (r != SK_OK) die("sk_channel_read_frame", r);
        check_frame(&b, n, "frames");
        sk_buf_free(&b);
        n++;
    }
    double dt = now() - t0;
    pthread_join(t, NULL);
    if (n != frames_sent) {
        fprintf(stderr, "ERROR received %" PRIu64 " frames, sent %" PRIu64 "\n", n, frames_sent);
        exit(1);
    }
    printf("RESULT frames/s %.0f writer_busy %.2f reader_busy %.2f\n", (double)n / dt, writer_busy, (thread_cpu() - rc0) / dt);
}

/* ---- scenario 3: echo round trip ---- */

static void *echo(void *arg) {
    (void)arg;
    sk_buf b = {NULL, 0};
    for (;;) {
        sk_result r = sk_channel_read_frame(cb, &b, -1);
        if (r == SK_ERR_EOF) break;
        if (r != SK_OK) die("echo sk_channel_read_frame", r);
        CK(sk_channel_write_frame(cb, b.data, b.len));
        sk_buf_free(&b);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Same definition as bench/src/util.rs quantile (nearest rank on the sorted list). */
static double quantile(const double *v, size_t n, double q) {
    if (n == 0) return 0;
    double c = q * (double)n;
    size_t i = (size_t)c;
    if ((double)i < c) i++;
    if (i < 1) i = 1;
    if (i > n) i = n;
    return v[i - 1];
}

static void rtt(size_t warm, size_t n) {
    pthread_t t;
    pthread_create(&t, NULL, echo, NULL);
    double *lat = malloc(sizeof(double) * (n ? n : 1));
    uint8_t f[FRAME];
    sk_buf b = {NULL, 0};
    for (uint64_t i = 0; i < warm + n; i++) {
        make_frame(i, f);
        double t0 = now();
        CK(sk_channel_write_frame(ca, f, FRAME));
        CK(sk_channel_read_frame(ca, &b, -1));
        double us = (now() - t0) * 1e6;
        check_frame(&b, i, "echo");
        sk_buf_free(&b);
        if (i >= warm) lat[i - warm] = us;
    }
    CK(sk_channel_close_write(ca));
    pthread_join(t, NULL);
    qsort(lat, n, sizeof(double), cmp_d);
    printf("RESULT p50_us %.1f p99_us %.1f\n", quantile(lat, n, 0.5), quantile(lat, n, 0.99));
    free(lat);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s bulk BYTES | frames SECS | rtt WARM N\n", argv[0]);
        return 2;
    }
    make_pattern();
    setup();
    if (strcmp(argv[1], "bulk") == 0) {
        bulk(strtoull(argv[2], NULL, 10));
    } else if (strcmp(argv[1], "frames") == 0) {
        frames(atof(argv[2]));
    } else if (strcmp(argv[1], "rtt") == 0 && argc >= 4) {
        rtt(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    } else {
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 2;
    }
    fflush(stdout);
    teardown();
    free(pat);
    return 0;
}
