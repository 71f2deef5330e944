/*
 * Single-process tests of the whole C API: every function in streamkit.h,
 * every result code that can be provoked from C, NULL / UTF-8 / handle
 * checks, timeouts, and the multi-threaded close/shutdown behaviour.
 */
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>

/* ---------- basics ---------- */

#include <dirent.h>

/* Threads of this process whose name is the runtime's ("streamkit-rt"). */
static int runtime_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, "streamkit-rt", 12) == 0) count++;
        fclose(f);
    }
    closedir(d);
    return count;
}

/* Must run first: the runtime starts on first use with STREAMKIT_THREADS
 * (default 2) worker threads, and no blocking-pool thread exists yet. */
static int test_runtime_threads(void) {
    CHECK(runtime_threads() == 0); /* nothing started before the first call */
    sk_peer *p = NULL;
    OK(sk_peer_new(&p));
    const char *env = getenv("STREAMKIT_THREADS");
    int want = env ? atoi(env) : 2;
    int got = -1;
    for (int i = 0; i < 100 && got != want; i++) {
        got = runtime_threads();
        if (got != want) usleep(10000);
    }
    if (got != want) fprintf(stderr, "  %d runtime threads, want %d\n", got, want);
    CHECK(got == want);
    sk_peer_free(p);
    return 0;
}

static void *last_error_thread(void *arg) {
    (void)arg;
    /* A fresh thread has no last error: "" (not NULL). */
    const char *e = sk_last_error();
    if (!e || e[0] != '\0') return (void *)1;
    sk_peer *p = NULL;
    if (sk_peer_new(NULL) != SK_ERR_INVALID) return (void *)1;
    if (!strstr(sk_last_error(), "out")) return (void *)1;
    if (sk_peer_new(&p) != SK_OK) return (void *)1;
    if (sk_peer_set_option_int(p, SK_OPT_CONNECT_TIMEOUT, -5) != SK_ERR_INVALID) return (void *)1;
    if (!strstr(sk_last_error(), "CONNECT_TIMEOUT")) return (void *)1;
    sk_peer_free(p);
    return NULL;
}

static int test_version_and_last_error(void) {
    const char *v = sk_version();
    CHECK(v && strlen(v) >= 5 && strchr(v, '.'));
    /* Set an error on this thread, then check another thread does not see it
     * and its own errors do not overwrite ours. */
    EXPECT_MSG(sk_generate_key(NULL), SK_ERR_INVALID, "sk_generate_key: invalid argument: out is NULL");
    char mine[256];
    snprintf(mine, sizeof mine, "%s", sk_last_error());
    pthread_t t;
    void *ret = (void *)1;
    CHECK(pthread_create(&t, NULL, last_error_thread, NULL) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK(ret == NULL);
    CHECK(strcmp(sk_last_error(), mine) == 0);
    /* A successful call leaves the message alone. */
    char *key = NULL;
    OK(sk_generate_key(&key));
    CHECK(strstr(key, "BEGIN OPENSSH PRIVATE KEY"));
    sk_string_free(key);
    CHECK(strcmp(sk_last_error(), mine) == 0);
    return 0;
}

static int test_null_arguments(void) {
    size_t base = sk_live_handles();
    sk_peer *p = NULL;
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    char *s = NULL;
    int64_t i64 = 0;
    size_t n = 0;
    uint8_t buf[8];
    sk_buf b = {0};
    sk_strlist l = {0};
    const char *hdr_null[1] = {NULL};

    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "nulls", &cb, &ca)) return 1;
    p = pp.a;

    EXPECT_MSG(sk_peer_new(NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_set_option_str(NULL, SK_OPT_NAME, "x"), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_set_option_str(p, SK_OPT_NAME, NULL), SK_ERR_INVALID, "v is NULL");
    EXPECT_MSG(sk_peer_set_option_int(NULL, SK_OPT_CONNECT_TIMEOUT, 1), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_get_option_str(p, SK_OPT_NAME, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_get_option_str(NULL, SK_OPT_NAME, &s), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_get_option_int(p, SK_OPT_CONNECT_TIMEOUT, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_get_option_int(NULL, SK_OPT_CONNECT_TIMEOUT, &i64), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_public_key(p, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_public_key(NULL, &s), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_bind(p, NULL, NULL), SK_ERR_INVALID, "endpoint is NULL");
    EXPECT_MSG(sk_peer_bind(NULL, "tcp://127.0.0.1:0", NULL), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_unbind(p, NULL), SK_ERR_INVALID, "endpoint is NULL");
    EXPECT_MSG(sk_peer_unbind(NULL, "tcp://127.0.0.1:1"), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_connect(p, NULL), SK_ERR_INVALID, "endpoint is NULL");
    EXPECT_MSG(sk_peer_connect(NULL, "tcp://127.0.0.1:1"), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_disconnect(p, NULL), SK_ERR_INVALID, "endpoint is NULL");
    EXPECT_MSG(sk_peer_disconnect(NULL, "tcp://127.0.0.1:1"), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_peers(p, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_peers(NULL, &l), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_drop(p, NULL), SK_ERR_INVALID, "name is NULL");
    EXPECT_MSG(sk_peer_drop(NULL, "b"), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_next_peer(p, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_next_peer(NULL, &s), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_accept(p, 0, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_accept(NULL, 0, &ca), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_open(p, NULL, "svc", NULL, 0, &ca), SK_ERR_INVALID, "peer is NULL");
    EXPECT_MSG(sk_peer_open(p, "b", NULL, NULL, 0, &ca), SK_ERR_INVALID, "service is NULL");
    EXPECT_MSG(sk_peer_open(p, "b", "svc", NULL, 1, &ca), SK_ERR_INVALID, "headers is NULL");
    EXPECT_MSG(sk_peer_open(p, "b", "svc", hdr_null, 1, &ca), SK_ERR_INVALID, "headers[0] is NULL");
    EXPECT_MSG(sk_peer_open(p, "b", "svc", NULL, 0, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_peer_open(NULL, "b", "svc", NULL, 0, &ca), SK_ERR_INVALID, "p is NULL");
    EXPECT_MSG(sk_peer_shutdown(NULL), SK_ERR_INVALID, "p is NULL");

    EXPECT_MSG(sk_channel_write(NULL, buf, 1, &n), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_write(cb, NULL, 1, &n), SK_ERR_INVALID, "data is NULL");
    EXPECT_MSG(sk_channel_write(cb, buf, 1, NULL), SK_ERR_INVALID, "written is NULL");
    EXPECT_MSG(sk_channel_read(NULL, buf, sizeof buf, &n, 0), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_read(cb, NULL, sizeof buf, &n, 0), SK_ERR_INVALID, "buf is NULL");
    EXPECT_MSG(sk_channel_read(cb, buf, sizeof buf, NULL, 0), SK_ERR_INVALID, "n is NULL");
    EXPECT_MSG(sk_channel_read(cb, buf, 0, &n, 0), SK_ERR_INVALID, "capacity");
    EXPECT_MSG(sk_channel_write_frame(NULL, buf, 1), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_write_frame(cb, NULL, 1), SK_ERR_INVALID, "data is NULL");
    EXPECT_MSG(sk_channel_read_frame(NULL, &b, 0), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_read_frame(cb, NULL, 0), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_write_error(NULL, buf, 1), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_write_error(cb, NULL, 1), SK_ERR_INVALID, "data is NULL");
    EXPECT_MSG(sk_channel_read_error(NULL, &b, 0), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_read_error(cb, NULL, 0), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_close_write(NULL), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_write_trailers(NULL, NULL, 0), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_write_trailers(cb, NULL, 2), SK_ERR_INVALID, "trailers is NULL");
    EXPECT_MSG(sk_channel_write_trailers(cb, hdr_null, 1), SK_ERR_INVALID, "trailers[0] is NULL");
    EXPECT_MSG(sk_channel_close(NULL), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_open(NULL, "svc", NULL, 0, &ca), SK_ERR_INVALID, "parent is NULL");
    EXPECT_MSG(sk_channel_open(cb, NULL, NULL, 0, &ca), SK_ERR_INVALID, "service is NULL");
    EXPECT_MSG(sk_channel_open(cb, "svc", NULL, 3, &ca), SK_ERR_INVALID, "headers is NULL");
    EXPECT_MSG(sk_channel_open(cb, "svc", NULL, 0, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_accept(NULL, 0, &ca), SK_ERR_INVALID, "parent is NULL");
    EXPECT_MSG(sk_channel_accept(cb, 0, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_service(NULL, &s), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_service(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_headers(NULL, &l), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_headers(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_trailers(NULL, &l), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_trailers(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_local_peer(NULL, &s), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_local_peer(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_remote_peer(NULL, &s), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_remote_peer(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_remote_key(NULL, &s), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_remote_key(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_remote_fingerprint(NULL, &s), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_remote_fingerprint(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_join_fd(NULL, -1), SK_ERR_INVALID, "fd = -1");
    EXPECT_MSG(sk_generate_key(NULL), SK_ERR_INVALID, "out is NULL");

    /* NULL with a zero length is fine. */
    OK(sk_channel_write(cb, NULL, 0, &n));
    CHECK(n == 0);

    /* The free functions accept NULL (and empty structs). */
    sk_peer_free(NULL);
    sk_channel_free(NULL);
    sk_string_free(NULL);
    sk_buf_free(NULL);
    sk_strlist_free(NULL);
    sk_buf_free(&b);
    sk_strlist_free(&l);

    /* Nothing was written on failure. */
    CHECK(s == NULL && i64 == 0 && b.data == NULL && l.items == NULL);

    sk_channel_free(cb);
    sk_channel_free(ca);
    free_pair(&pp);
    CHECK(sk_live_handles() == base);
    return 0;
}

static int test_invalid_utf8(void) {
    sk_peer *p = NULL;
    OK(sk_peer_new(&p));
    EXPECT_MSG(sk_peer_set_option_str(p, SK_OPT_NAME, "bad\xff\xfename"), SK_ERR_INVALID, "v is not valid UTF-8");
    EXPECT_MSG(sk_peer_bind(p, "tcp://127.0.0.1:\xc3", NULL), SK_ERR_INVALID, "endpoint is not valid UTF-8");
    EXPECT_MSG(sk_peer_connect(p, "\x80"), SK_ERR_INVALID, "UTF-8");
    const char *bad_headers[] = {"ok=1", "bad=\xff"};
    sk_channel *c = NULL;
    EXPECT_MSG(sk_peer_open(p, "x", "svc", bad_headers, 2, &c), SK_ERR_INVALID, "headers[1] is not valid UTF-8");
    EXPECT_MSG(sk_peer_open(p, "x", "s\xfe", NULL, 0, &c), SK_ERR_INVALID, "service is not valid UTF-8");
    EXPECT_MSG(sk_peer_drop(p, "\xc0"), SK_ERR_INVALID, "name is not valid UTF-8");
    CHECK(c == NULL);
    sk_peer_free(p);
    return 0;
}

static int test_handles_checked(void) {
    size_t base = sk_live_handles();
    sk_peer *p = NULL, *q = NULL;
    char *s = NULL;
    OK(sk_peer_new(&p));
    CHECK(sk_live_handles() == base + 1);
    OK(sk_peer_get_option_str(p, SK_OPT_NAME, &s));
    sk_string_free(s);
    s = NULL;
    sk_peer_free(p);
    CHECK(sk_live_handles() == base);
    /* Use after free. */
    EXPECT_MSG(sk_peer_get_option_str(p, SK_OPT_NAME, &s), SK_ERR_INVALID, "not a live sk_peer handle");
    EXPECT_MSG(sk_peer_shutdown(p), SK_ERR_INVALID, "p is not a live sk_peer handle");
    /* Double free is a no-op. */
    sk_peer_free(p);
    /* The slot is reused by a new peer; the stale handle must still fail. */
    OK(sk_peer_new(&q));
    CHECK(q != p);
    EXPECT(sk_peer_get_option_str(p, SK_OPT_NAME, &s), SK_ERR_INVALID);
    OK(sk_peer_get_option_str(q, SK_OPT_NAME, &s));
    sk_string_free(s);
    s = NULL;
    /* Never-issued values: small integers, a stack address, a heap address. */
    int local = 0;
    void *heap = malloc(64);
    EXPECT(sk_peer_shutdown((sk_peer *)(uintptr_t)0x1234), SK_ERR_INVALID);
    EXPECT(sk_peer_shutdown((sk_peer *)&local), SK_ERR_INVALID);
    EXPECT(sk_peer_shutdown((sk_peer *)heap), SK_ERR_INVALID);
    EXPECT(sk_peer_shutdown((sk_peer *)(uintptr_t)UINTPTR_MAX), SK_ERR_INVALID);
    EXPECT_MSG(sk_channel_close((sk_channel *)heap), SK_ERR_INVALID, "not a live sk_channel handle");
    sk_peer_free((sk_peer *)heap);       /* no-op, no crash */
    sk_channel_free((sk_channel *)heap); /* no-op, no crash */
    free(heap);
    /* A peer handle is not a channel handle. */
    EXPECT_MSG(sk_channel_close((sk_channel *)q), SK_ERR_INVALID, "not a live sk_channel handle");
    sk_channel_free((sk_channel *)q); /* wrong type: ignored */
    CHECK(sk_live_handles() == base + 1);
    sk_peer_free(q);
    CHECK(sk_live_handles() == base);
    return 0;
}

static int test_options(void) {
    sk_peer *p = NULL;
    char *s = NULL;
    int64_t v = 0;
    OK(sk_peer_new(&p));
    /* Defaults. */
    OK(sk_peer_get_option_int(p, SK_OPT_CONNECT_TIMEOUT, &v));
    CHECK(v == 10000);
    OK(sk_peer_get_option_int(p, SK_OPT_MAX_FRAME_SIZE, &v));
    CHECK(v == 16 * 1024 * 1024);
    OK(sk_peer_get_option_int(p, SK_OPT_RECONNECT_INTERVAL, &v));
    CHECK(v == 100);
    OK(sk_peer_get_option_str(p, SK_OPT_NAME, &s));
    CHECK(strlen(s) == 36); /* a UUID */
    sk_string_free(s);
    /* Every integer option round-trips. */
    const struct { sk_option o; int64_t v; } ints[] = {
        {SK_OPT_RECONNECT_INTERVAL, -1},  {SK_OPT_RECONNECT_INTERVAL_MAX, 5000},
        {SK_OPT_CONNECT_TIMEOUT, 1234},   {SK_OPT_MAX_FRAME_SIZE, 4096},
        {SK_OPT_KEEPALIVE_INTERVAL, 0},   {SK_OPT_KEEPALIVE_COUNT, 5},
        {SK_OPT_HANDSHAKE_TIMEOUT, 7000}, {SK_OPT_MAX_CHANNELS, 100},
        {SK_OPT_CHANNEL_WINDOW, 65536},   {SK_OPT_ACCEPT_BACKLOG, 10},
        {SK_OPT_WINDOW_BUDGET, 0},        {SK_OPT_MAX_CONNECTIONS_PER_KEY, 4},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        OK(sk_peer_set_option_int(p, ints[i].o, ints[i].v));
        OK(sk_peer_get_option_int(p, ints[i].o, &v));
        CHECK(v == ints[i].v);
        EXPECT_MSG(sk_peer_set_option_str(p, ints[i].o, "1"), SK_ERR_INVALID, "integer");
        EXPECT(sk_peer_get_option_str(p, ints[i].o, &s), SK_ERR_INVALID);
    }
    /* Every string option round-trips. */
    char *key = NULL;
    OK(sk_generate_key(&key));
    const struct { sk_option o; const char *v; } strs[] = {
        {SK_OPT_PRIVATE_KEY, key},
        {SK_OPT_AUTHORIZED_KEYS, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm3W4r8Nn9dV9d2pH1uFJtqEvZl8S9u6QyHqV0yYg0q x"},
        {SK_OPT_NAME, "node-1"},
        {SK_OPT_KNOWN_HOSTS, "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm3W4r8Nn9dV9d2pH1uFJtqEvZl8S9u6QyHqV0yYg0q"},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        OK(sk_peer_set_option_str(p, strs[i].o, strs[i].v));
        OK(sk_peer_get_option_str(p, strs[i].o, &s));
        CHECK(strcmp(s, strs[i].v) == 0);
        sk_string_free(s);
        s = NULL;
        EXPECT_MSG(sk_peer_set_option_int(p, strs[i].o, 1), SK_ERR_INVALID, "string");
        EXPECT(sk_peer_get_option_int(p, strs[i].o, &v), SK_ERR_INVALID);
    }
    sk_string_free(key);
    /* Out-of-range option numbers are errors, not undefined behaviour. */
    EXPECT_MSG(sk_peer_set_option_int(p, (sk_option)16, 1), SK_ERR_INVALID, "o = 16 is not an sk_option");
    EXPECT_MSG(sk_peer_set_option_int(p, (sk_option)-1, 1), SK_ERR_INVALID, "o = -1");
    EXPECT(sk_peer_set_option_str(p, (sk_option)1000, "x"), SK_ERR_INVALID);
    EXPECT(sk_peer_get_option_int(p, (sk_option)99, &v), SK_ERR_INVALID);
    EXPECT(sk_peer_get_option_str(p, (sk_option)99, &s), SK_ERR_INVALID);
    /* Out-of-range values. */
    EXPECT_MSG(sk_peer_set_option_int(p, SK_OPT_CONNECT_TIMEOUT, -2), SK_ERR_INVALID, "CONNECT_TIMEOUT");
    EXPECT(sk_peer_set_option_int(p, SK_OPT_MAX_FRAME_SIZE, 0), SK_ERR_INVALID);
    EXPECT(sk_peer_set_option_str(p, SK_OPT_NAME, ""), SK_ERR_INVALID);
    /* A bad key is rejected when set, and the old one is kept. */
    char *before = NULL;
    OK(sk_peer_public_key(p, &before));
    EXPECT_MSG(sk_peer_set_option_str(p, SK_OPT_PRIVATE_KEY, "-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n-----END OPENSSH PRIVATE KEY-----\n"), SK_ERR_INVALID, "PRIVATE_KEY");
    OK(sk_peer_public_key(p, &s));
    CHECK(strcmp(s, before) == 0);
    sk_string_free(s);
    sk_string_free(before);
    s = NULL;
    sk_peer_free(p);
    return 0;
}

static int test_endpoints(void) {
    sk_peer *p = NULL, *q = NULL;
    char *bound = NULL;
    char path[128];
    OK(sk_peer_new(&p));
    EXPECT_MSG(sk_peer_bind(p, "foo://bar", NULL), SK_ERR_INVALID, "foo://bar");
    EXPECT_MSG(sk_peer_connect(p, "nonsense"), SK_ERR_INVALID, "nonsense");
    EXPECT(sk_peer_bind(p, "unix://relative/path", NULL), SK_ERR_INVALID);
    /* tcp port 0 resolves to the real port. */
    OK(sk_peer_bind(p, "tcp://127.0.0.1:0", &bound));
    CHECK(strncmp(bound, "tcp://127.0.0.1:", 16) == 0 && atoi(bound + 16) > 0);
    /* The same address again, from another peer: SK_ERR_IO (address in use). */
    OK(sk_peer_new(&q));
    EXPECT_MSG(sk_peer_bind(q, bound, NULL), SK_ERR_IO, bound);
    OK(sk_peer_unbind(p, bound));
    EXPECT(sk_peer_unbind(p, bound), SK_ERR_INVALID); /* not bound any more */
    sk_string_free(bound);
    bound = NULL;
    /* unix and inproc; bound may be NULL. */
    snprintf(path, sizeof path, "unix:///tmp/sk-ctest-%d.sock", (int)getpid());
    OK(sk_peer_bind(p, path, NULL));
    OK(sk_peer_unbind(p, path));
    OK(sk_peer_bind(p, "inproc://ctest-endpoints", &bound));
    CHECK(strcmp(bound, "inproc://ctest-endpoints") == 0);
    sk_string_free(bound);
    /* unix socket in a directory that does not exist: I/O error. */
    EXPECT(sk_peer_bind(q, "unix:///nonexistent-dir-sk/x.sock", NULL), SK_ERR_IO);
    /* With RECONNECT_INTERVAL = -1 a refused connection is an I/O error at once. */
    OK(sk_peer_set_option_int(q, SK_OPT_RECONNECT_INTERVAL, -1));
    EXPECT_MSG(sk_peer_connect(q, "tcp://127.0.0.1:1"), SK_ERR_IO, "tcp://127.0.0.1:1");
    /* Disconnect from something never connected. */
    EXPECT(sk_peer_disconnect(q, "tcp://127.0.0.1:1"), SK_ERR_INVALID);
    sk_peer_free(p);
    sk_peer_free(q);
    return 0;
}

/* ---------- two peers ---------- */

static int stream_roundtrip(const char *endpoint) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    const char *headers[] = {"k1=v1", "k2=v2"};
    const char *trailers[] = {"status=ok", "rows=3"};
    char *s = NULL;
    sk_strlist l = {0};
    sk_buf b = {0};
    uint8_t buf[64];
    size_t n = 0;

    if (make_pair(&pp, endpoint)) return 1;
    OK(sk_peer_open(pp.b, "a", "echo", headers, 2, &cb));
    OK(sk_peer_accept(pp.a, 5000 * slow_factor(), &ca));

    /* Metadata on both ends. */
    OK(sk_channel_service(ca, &s));
    CHECK(strcmp(s, "echo") == 0);
    sk_string_free(s);
    OK(sk_channel_headers(ca, &l));
    CHECK(l.len == 2 && strcmp(l.items[0], "k1=v1") == 0 && strcmp(l.items[1], "k2=v2") == 0);
    sk_strlist_free(&l);
    CHECK(l.items == NULL && l.len == 0);
    sk_strlist_free(&l); /* harmless after reset */
    OK(sk_channel_local_peer(ca, &s));
    CHECK(strcmp(s, "a") == 0);
    sk_string_free(s);
    OK(sk_channel_remote_peer(ca, &s));
    CHECK(strcmp(s, "b") == 0);
    sk_string_free(s);
    OK(sk_channel_local_peer(cb, &s));
    CHECK(strcmp(s, "b") == 0);
    sk_string_free(s);
    OK(sk_channel_remote_peer(cb, &s));
    CHECK(strcmp(s, "a") == 0);
    sk_string_free(s);
    OK(sk_channel_remote_key(cb, &s));
    CHECK(strncmp(s, "ssh-ed25519 AAAA", 16) == 0);
    CHECK(strchr(s + 12, ' ') == NULL); /* no comment */
    sk_string_free(s);
    OK(sk_channel_remote_fingerprint(cb, &s));
    CHECK(strncmp(s, "SHA256:", 7) == 0 && strlen(s) == 7 + 43);
    sk_string_free(s);
    OK(sk_channel_service(cb, &s));
    CHECK(strcmp(s, "echo") == 0);
    sk_string_free(s);

    /* Bytes. */
    OK(sk_channel_write(cb, (const uint8_t *)"hello", 5, &n));
    CHECK(n == 5);
    if (read_full(ca, buf, 5)) return 1;
    CHECK(memcmp(buf, "hello", 5) == 0);

    /* Frames, including an empty one. */
    OK(sk_channel_write_frame(ca, (const uint8_t *)"frame-1", 7));
    OK(sk_channel_write_frame(ca, NULL, 0));
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 7 && memcmp(b.data, "frame-1", 7) == 0);
    sk_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 0 && b.data == NULL);
    sk_buf_free(&b);

    /* Error frames travel separately. */
    OK(sk_channel_write_error(ca, (const uint8_t *)"oops", 4));
    OK(sk_channel_read_error(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 4 && memcmp(b.data, "oops", 4) == 0);
    sk_buf_free(&b);

    /* Trailers + half close: a reads EOF (n == 0), then sees b's trailers. */
    OK(sk_channel_write_trailers(cb, trailers, 2));
    OK(sk_channel_close_write(cb));
    OK(sk_channel_read(ca, buf, sizeof buf, &n, 5000 * slow_factor()));
    CHECK(n == 0);
    OK(sk_channel_read(ca, buf, sizeof buf, &n, 0)); /* EOF is sticky */
    CHECK(n == 0);
    OK(sk_channel_trailers(ca, &l));
    CHECK(l.len == 2 && strcmp(l.items[0], "status=ok") == 0 && strcmp(l.items[1], "rows=3") == 0);
    sk_strlist_free(&l);
    /* b closed for writing: writing again is SK_ERR_CLOSED; a can still write to b. */
    EXPECT(sk_channel_write(cb, (const uint8_t *)"x", 1, &n), SK_ERR_CLOSED);
    OK(sk_channel_write(ca, (const uint8_t *)"back", 4, &n));
    if (read_full(cb, buf, 4)) return 1;
    CHECK(memcmp(buf, "back", 4) == 0);
    /* a closes: b's frame and error reads report a clean EOF. */
    OK(sk_channel_close_write(ca));
    EXPECT_MSG(sk_channel_read_frame(cb, &b, 5000 * slow_factor()), SK_ERR_EOF, "end of stream");
    EXPECT(sk_channel_read_error(cb, &b, 5000 * slow_factor()), SK_ERR_EOF);
    CHECK(b.data == NULL);
    OK(sk_channel_close(ca));
    OK(sk_channel_close(ca)); /* idempotent */
    OK(sk_channel_close(cb));
    EXPECT(sk_channel_write(ca, (const uint8_t *)"x", 1, &n), SK_ERR_CLOSED);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_tcp_stream(void) { return stream_roundtrip("tcp://127.0.0.1:0"); }

static int test_unix_stream(void) {
    char ep[128];
    snprintf(ep, sizeof ep, "unix:///tmp/sk-ctest-u-%d.sock", (int)getpid());
    return stream_roundtrip(ep);
}

static int test_inproc_stream(void) { return stream_roundtrip("inproc://ctest-inproc"); }

typedef struct {
    sk_channel *c;
    const uint8_t *data;
    size_t len;
    int frame;
    sk_result rc;
    size_t written;
} bulk_arg;

static void *bulk_writer(void *p) {
    bulk_arg *a = p;
    if (a->frame)
        a->rc = sk_channel_write_frame(a->c, a->data, a->len);
    else
        a->rc = sk_channel_write(a->c, a->data, a->len, &a->written);
    return NULL;
}

static int test_large_transfer(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    const size_t total = 4 * 1024 * 1024;
    uint8_t *src = malloc(total), *dst = malloc(total);
    pthread_t t;
    CHECK(src && dst);
    for (size_t i = 0; i < total; i++) src[i] = (uint8_t)(i * 7 + (i >> 13));
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "bulk", &cb, &ca)) return 1;
    /* A 1 MiB frame (larger than the flow-control window: the writer blocks until read). */
    bulk_arg a = {cb, src, 1024 * 1024, 1, SK_ERR_INTERNAL, 0};
    CHECK(pthread_create(&t, NULL, bulk_writer, &a) == 0);
    sk_buf b = {0};
    OK(sk_channel_read_frame(ca, &b, 10000 * slow_factor()));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(a.rc == SK_OK);
    CHECK(b.len == 1024 * 1024 && memcmp(b.data, src, b.len) == 0);
    sk_buf_free(&b);
    /* A 4 MiB byte stream. */
    bulk_arg w = {cb, src, total, 0, SK_ERR_INTERNAL, 0};
    CHECK(pthread_create(&t, NULL, bulk_writer, &w) == 0);
    if (read_full(ca, dst, total)) return 1;
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(w.rc == SK_OK && w.written == total);
    CHECK(memcmp(src, dst, total) == 0);
    free(src);
    free(dst);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_peers_next_drop_disconnect(void) {
    pair pp;
    sk_strlist l = {0};
    char *s = NULL;
    sk_channel *c = NULL;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    OK(sk_peer_peers(pp.b, &l));
    CHECK(l.len == 1 && strcmp(l.items[0], "a") == 0);
    sk_strlist_free(&l);
    /* The bound side knows the connecting side by name too. (API.md says
     * connect returns once both sides know each other's name, but the core
     * may register b on a's side a moment later: wait for it.) */
    if (wait_peer_count(pp.a, 1)) return 1;
    OK(sk_peer_peers(pp.a, &l));
    CHECK(l.len == 1 && strcmp(l.items[0], "b") == 0);
    sk_strlist_free(&l);
    OK(sk_peer_next_peer(pp.b, &s));
    CHECK(strcmp(s, "a") == 0);
    sk_string_free(s);
    s = NULL;
    /* No such peer. */
    EXPECT_MSG(sk_peer_open(pp.b, "zzz", "svc", NULL, 0, &c), SK_ERR_NO_PEER, "zzz");
    EXPECT(sk_peer_drop(pp.b, "zzz"), SK_ERR_NO_PEER);
    /* Disconnect: no peers left, next_peer says NO_PEER. */
    OK(sk_peer_disconnect(pp.b, pp.endpoint));
    OK(sk_peer_peers(pp.b, &l));
    CHECK(l.len == 0 && l.items == NULL);
    sk_strlist_free(&l);
    EXPECT_MSG(sk_peer_next_peer(pp.b, &s), SK_ERR_NO_PEER, "no peer");
    CHECK(s == NULL);
    EXPECT(sk_peer_open(pp.b, "a", "svc", NULL, 0, &c), SK_ERR_NO_PEER);
    /* Reconnect, then drop by name. */
    OK(sk_peer_connect(pp.b, pp.endpoint));
    if (wait_peer_count(pp.a, 1)) return 1; /* see above */
    OK(sk_peer_drop(pp.a, "b"));
    /* a no longer lists b (give the close a moment to propagate). */
    if (wait_peer_count(pp.a, 0)) return 1;
    free_pair(&pp);
    return 0;
}

static int test_child_channels(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL, *kb = NULL, *ka = NULL;
    const char *hdr[] = {"child=1"};
    sk_strlist l = {0};
    char *s = NULL;
    sk_buf b = {0};
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "parent", &cb, &ca)) return 1;
    EXPECT(sk_channel_accept(ca, 0, &ka), SK_ERR_TIMEOUT);
    OK(sk_channel_open(cb, "kid", hdr, 1, &kb));
    OK(sk_channel_accept(ca, 5000 * slow_factor(), &ka));
    OK(sk_channel_service(ka, &s));
    CHECK(strcmp(s, "kid") == 0);
    sk_string_free(s);
    OK(sk_channel_headers(ka, &l));
    CHECK(l.len == 1 && strcmp(l.items[0], "child=1") == 0);
    sk_strlist_free(&l);
    OK(sk_channel_write_frame(kb, (const uint8_t *)"in-child", 8));
    OK(sk_channel_read_frame(ka, &b, 5000 * slow_factor()));
    CHECK(b.len == 8 && memcmp(b.data, "in-child", 8) == 0);
    sk_buf_free(&b);
    /* The parent stream is unaffected. */
    OK(sk_channel_write_frame(ca, (const uint8_t *)"in-parent", 9));
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 9 && memcmp(b.data, "in-parent", 9) == 0);
    sk_buf_free(&b);
    sk_channel_free(ka);
    sk_channel_free(kb);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_timeouts(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL, *x = NULL;
    uint8_t buf[8];
    size_t n = 7;
    sk_buf b = {0};
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    EXPECT_MSG(sk_peer_accept(pp.a, 0, &x), SK_ERR_TIMEOUT, "accept");
    double t0 = now_ms();
    EXPECT(sk_peer_accept(pp.a, 150, &x), SK_ERR_TIMEOUT);
    double dt = now_ms() - t0;
    CHECK(dt >= 140 && dt < 3000 * slow_factor());
    CHECK(x == NULL);
    EXPECT_MSG(sk_peer_accept(pp.a, -2, &x), SK_ERR_INVALID, "timeout_ms");
    if (open_accept(&pp, "slow", &cb, &ca)) return 1;
    t0 = now_ms();
    EXPECT_MSG(sk_channel_read(ca, buf, sizeof buf, &n, 100), SK_ERR_TIMEOUT, "100 ms");
    CHECK(now_ms() - t0 >= 90);
    CHECK(n == 7);
    EXPECT(sk_channel_read(ca, buf, sizeof buf, &n, 0), SK_ERR_TIMEOUT);
    EXPECT(sk_channel_read_frame(ca, &b, 50), SK_ERR_TIMEOUT);
    EXPECT(sk_channel_read_error(ca, &b, 50), SK_ERR_TIMEOUT);
    EXPECT(sk_channel_accept(ca, 50, &x), SK_ERR_TIMEOUT);
    EXPECT(sk_channel_read(ca, buf, sizeof buf, &n, -7), SK_ERR_INVALID);
    CHECK(b.data == NULL && x == NULL);
    /* A timed-out read consumed nothing: data sent afterwards arrives intact. */
    OK(sk_channel_write_frame(cb, (const uint8_t *)"late", 4));
    OK(sk_channel_read_frame(ca, &b, 5000 * slow_factor()));
    CHECK(b.len == 4 && memcmp(b.data, "late", 4) == 0);
    sk_buf_free(&b);
    /* timeout_ms = 0 returns data that has already arrived. */
    OK(sk_channel_write(cb, (const uint8_t *)"polled", 6, &n));
    sk_result pr = SK_ERR_TIMEOUT;
    for (int i = 0; i < 200 && pr == SK_ERR_TIMEOUT; i++) {
        pr = sk_channel_read(ca, buf, 6, &n, 0);
        if (pr == SK_ERR_TIMEOUT) usleep(10000);
    }
    OK(pr);
    CHECK(n >= 1 && memcmp(buf, "polled", n) == 0);
    if (n < 6 && read_full(ca, buf + n, 6 - n)) return 1; /* the rest of "polled" */
    OK(sk_channel_write_frame(cb, (const uint8_t *)"f", 1));
    pr = SK_ERR_TIMEOUT;
    for (int i = 0; i < 200 && pr == SK_ERR_TIMEOUT; i++) {
        pr = sk_channel_read_frame(ca, &b, 0);
        if (pr == SK_ERR_TIMEOUT) usleep(10000);
    }
    OK(pr);
    CHECK(b.len == 1 && b.data[0] == 'f');
    sk_buf_free(&b);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);

    /* Connect to a port nobody listens on: SK_ERR_TIMEOUT after CONNECT_TIMEOUT. */
    sk_peer *p = NULL;
    OK(sk_peer_new(&p));
    OK(sk_peer_set_option_int(p, SK_OPT_CONNECT_TIMEOUT, 300));
    t0 = now_ms();
    EXPECT(sk_peer_connect(p, "tcp://127.0.0.1:1"), SK_ERR_TIMEOUT);
    dt = now_ms() - t0;
    CHECK(dt >= 250 && dt < 5000 * slow_factor());
    sk_peer_free(p);
    return 0;
}

static int test_auth_rejected(void) {
    sk_peer *a = NULL, *b = NULL, *c = NULL;
    char *ep = NULL, *ka = NULL, *kc = NULL;
    if (new_peer(&a, "a") || new_peer(&b, "b") || new_peer(&c, "c")) return 1;
    if (trust_each_other(a, b)) return 1;
    OK(sk_peer_bind(a, "tcp://127.0.0.1:0", &ep));
    /* c's key is not in a's AUTHORIZED_KEYS (c trusts a): a rejects c. */
    OK(sk_peer_public_key(a, &ka));
    OK(sk_peer_set_option_str(c, SK_OPT_AUTHORIZED_KEYS, ka));
    OK(sk_peer_set_option_int(c, SK_OPT_CONNECT_TIMEOUT, 3000 * slow_factor()));
    EXPECT(sk_peer_connect(c, ep), SK_ERR_AUTH);
    /* Other direction: a trusts c, but c does not trust a's host key. */
    OK(sk_peer_public_key(c, &kc));
    OK(sk_peer_set_option_str(a, SK_OPT_AUTHORIZED_KEYS, kc));
    OK(sk_peer_set_option_str(c, SK_OPT_AUTHORIZED_KEYS, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm3W4r8Nn9dV9d2pH1uFJtqEvZl8S9u6QyHqV0yYg0q other"));
    EXPECT(sk_peer_connect(c, ep), SK_ERR_AUTH);
    sk_strlist l = {0};
    OK(sk_peer_peers(c, &l));
    CHECK(l.len == 0);
    sk_string_free(ka);
    sk_string_free(kc);
    sk_string_free(ep);
    sk_peer_free(a);
    sk_peer_free(b);
    sk_peer_free(c);
    return 0;
}

/* The data-path calls remember the last channel handle of each thread; a
 * handle freed by another thread (or by this one) must still be refused
 * everywhere, also once its slot holds a new channel. */
static void *free_channel_thread(void *arg) {
    sk_channel_free((sk_channel *)arg);
    return NULL;
}

static int test_freed_channel_handle_in_use(void) {
    size_t base = sk_live_handles();
    pair pp;
    sk_channel *cb = NULL, *ca = NULL, *cb2 = NULL, *ca2 = NULL;
    sk_buf b = {NULL, 0};
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "c", &cb, &ca)) return 1;
    /* This thread uses both ends (cb last). */
    OK(sk_channel_write_frame(ca, (const uint8_t *)"one", 3));
    OK(sk_channel_read_frame(cb, &b, 5000));
    CHECK(b.len == 3 && memcmp(b.data, "one", 3) == 0);
    sk_buf_free(&b);
    /* Another thread frees cb: this thread's next calls on it are refused. */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_channel_thread, cb) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    EXPECT_MSG(sk_channel_read_frame(cb, &b, 0), SK_ERR_INVALID, "not a live sk_channel handle");
    EXPECT_MSG(sk_channel_write_frame(cb, (const uint8_t *)"x", 1), SK_ERR_INVALID, "not a live sk_channel handle");
    CHECK(b.data == NULL && b.len == 0);
    /* This thread frees ca right after using it. */
    size_t n = 0;
    uint8_t buf[8];
    /* (the remote end is gone: end of stream, closed, or not yet seen) */
    sk_result r = sk_channel_read(ca, buf, sizeof buf, &n, 0);
    CHECK((r == SK_OK && n == 0) || r == SK_ERR_CLOSED || r == SK_ERR_TIMEOUT);
    sk_channel_free(ca);
    EXPECT_MSG(sk_channel_read(ca, buf, sizeof buf, &n, 0), SK_ERR_INVALID, "not a live sk_channel handle");
    EXPECT(sk_channel_write(ca, (const uint8_t *)"x", 1, &n), SK_ERR_INVALID);
    /* New channels reuse the slots; the old handles stay refused and the
     * new ones work (and were not served from a stale cache). */
    if (open_accept(&pp, "c2", &cb2, &ca2)) return 1;
    OK(sk_channel_write_frame(ca2, (const uint8_t *)"two", 3));
    EXPECT(sk_channel_read_frame(cb, &b, 0), SK_ERR_INVALID);
    EXPECT(sk_channel_write_frame(ca, (const uint8_t *)"x", 1), SK_ERR_INVALID);
    OK(sk_channel_read_frame(cb2, &b, 5000));
    CHECK(b.len == 3 && memcmp(b.data, "two", 3) == 0);
    sk_buf_free(&b);
    sk_channel_free(ca2);
    sk_channel_free(cb2);
    free_pair(&pp);
    CHECK(sk_live_handles() == base);
    return 0;
}

/* sk_channel_read_frames / sk_channel_unread: batches of whole frames as
 * length-prefixed records, the fallback for a frame that does not fit, bytes
 * given back, end of stream, bad arguments and a freed handle. */
static int test_read_frames(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    uint8_t buf[64], got[64], big[100];
    size_t len = 99, n = 0, have = 0;
    sk_buf b = {NULL, 0};
    memset(big, 'x', sizeof big);
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "rf", &cb, &ca)) return 1;
    EXPECT_MSG(sk_channel_read_frames(NULL, buf, sizeof buf, &len, 0), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_read_frames(cb, NULL, sizeof buf, &len, 0), SK_ERR_INVALID, "buf is NULL");
    EXPECT_MSG(sk_channel_read_frames(cb, buf, 0, &len, 0), SK_ERR_INVALID, "capacity of buf is 0");
    EXPECT_MSG(sk_channel_read_frames(cb, buf, 3, &len, 0), SK_ERR_INVALID, "at least 4 bytes");
    EXPECT_MSG(sk_channel_read_frames(cb, buf, sizeof buf, NULL, 0), SK_ERR_INVALID, "len is NULL");
    EXPECT_MSG(sk_channel_read_frames(cb, buf, sizeof buf, &len, -2), SK_ERR_INVALID, "timeout_ms");
    EXPECT_MSG(sk_channel_read_frames(cb, buf, sizeof buf, &len, 0), SK_ERR_TIMEOUT, "nothing available");
    EXPECT_MSG(sk_channel_unread(NULL, buf, 1), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_channel_unread(cb, NULL, 1), SK_ERR_INVALID, "data is NULL");
    OK(sk_channel_unread(cb, NULL, 0));
    CHECK(len == 99); /* outputs untouched on failure */

    /* Three small frames ("a", empty, "bc"), then one that does not fit. */
    OK(sk_channel_write_frame(ca, (const uint8_t *)"a", 1));
    OK(sk_channel_write_frame(ca, NULL, 0));
    OK(sk_channel_write_frame(ca, (const uint8_t *)"bc", 2));
    OK(sk_channel_write_frame(ca, big, sizeof big));
    const uint8_t want[] = {0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 2, 'b', 'c'};
    while (have < sizeof want) { /* they may arrive in several packets */
        OK(sk_channel_read_frames(cb, buf, sizeof buf, &len, 5000 * slow_factor()));
        CHECK(len > 0 && have + len <= sizeof want);
        memcpy(got + have, buf, len);
        have += len;
    }
    CHECK(memcmp(got, want, sizeof want) == 0);
    /* The 100-byte frame is longer than buf: nothing read, sk_channel_read_frame gets it. */
    OK(sk_channel_read_frames(cb, buf, sizeof buf, &len, 5000 * slow_factor()));
    CHECK(len == 0);
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == sizeof big && memcmp(b.data, big, sizeof big) == 0);
    sk_buf_free(&b);

    /* Bytes given back come first, for every kind of read. */
    OK(sk_channel_write_frame(ca, (const uint8_t *)"after", 5));
    OK(sk_channel_unread(cb, want, 5));
    OK(sk_channel_read_frames(cb, buf, 5, &len, 5000 * slow_factor()));
    CHECK(len == 5 && memcmp(buf, want, 5) == 0);
    OK(sk_channel_unread(cb, want, 5));
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 1 && b.data[0] == 'a');
    sk_buf_free(&b);
    OK(sk_channel_unread(cb, want + 5, 4));
    OK(sk_channel_read(cb, buf, 3, &n, 5000 * slow_factor()));
    CHECK(n == 3 && memcmp(buf, want + 5, 3) == 0);
    OK(sk_channel_read(cb, buf, 1, &n, 5000 * slow_factor()));
    CHECK(n == 1 && buf[0] == 0);
    OK(sk_channel_read_frame(cb, &b, 5000 * slow_factor()));
    CHECK(b.len == 5 && memcmp(b.data, "after", 5) == 0);
    sk_buf_free(&b);

    /* Clean end of stream. */
    OK(sk_channel_close_write(ca));
    EXPECT_MSG(sk_channel_read_frames(cb, buf, sizeof buf, &len, 5000 * slow_factor()), SK_ERR_EOF, "end of stream");

    /* A freed handle is refused by both. */
    sk_channel_free(cb);
    EXPECT_MSG(sk_channel_read_frames(cb, buf, sizeof buf, &len, 0), SK_ERR_INVALID, "not a live sk_channel handle");
    EXPECT_MSG(sk_channel_unread(cb, want, 1), SK_ERR_INVALID, "not a live sk_channel handle");
    sk_channel_free(ca);
    free_pair(&pp);
    return 0;
}

static int test_closed(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL, *x = NULL;
    uint8_t buf[8];
    size_t n = 0;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "c", &cb, &ca)) return 1;
    OK(sk_peer_shutdown(pp.a));
    EXPECT_MSG(sk_peer_shutdown(pp.a), SK_ERR_CLOSED, "shut down");
    EXPECT(sk_peer_accept(pp.a, -1, &x), SK_ERR_CLOSED);
    EXPECT(sk_peer_accept(pp.a, 0, &x), SK_ERR_CLOSED);
    EXPECT(sk_peer_bind(pp.a, "tcp://127.0.0.1:0", NULL), SK_ERR_CLOSED);
    EXPECT(sk_peer_open(pp.a, "b", "svc", NULL, 0, &x), SK_ERR_CLOSED);
    /* a's channel is closed locally. */
    EXPECT(sk_channel_write(ca, (const uint8_t *)"x", 1, &n), SK_ERR_CLOSED);
    EXPECT(sk_channel_read(ca, buf, sizeof buf, &n, 1000), SK_ERR_CLOSED);
    /* b's channel sees the connection go away: EOF or closed, never a hang. */
    sk_result r = sk_channel_read(cb, buf, sizeof buf, &n, 5000 * slow_factor());
    CHECK(r == SK_ERR_CLOSED || (r == SK_OK && n == 0));
    /* The handle stays valid until freed. */
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_protocol_frame_too_large(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    uint8_t big[100];
    sk_buf b = {0};
    memset(big, 'x', sizeof big);
    memset(&pp, 0, sizeof pp);
    if (new_peer(&pp.a, "a") || new_peer(&pp.b, "b") || trust_each_other(pp.a, pp.b)) return 1;
    OK(sk_peer_set_option_int(pp.a, SK_OPT_MAX_FRAME_SIZE, 16));
    OK(sk_peer_bind(pp.a, "tcp://127.0.0.1:0", &pp.endpoint));
    OK(sk_peer_connect(pp.b, pp.endpoint));
    if (open_accept(&pp, "p", &cb, &ca)) return 1;
    OK(sk_channel_write_frame(cb, big, sizeof big));
    EXPECT_MSG(sk_channel_read_frame(ca, &b, 5000 * slow_factor()), SK_ERR_PROTOCOL, "16");
    CHECK(b.data == NULL);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_truncated_frame_is_protocol_error(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    sk_buf b = {0};
    size_t n = 0;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "p", &cb, &ca)) return 1;
    /* A length prefix of 10 followed by only 3 bytes, then EOF. */
    OK(sk_channel_write(cb, (const uint8_t *)"\0\0\0\x0a" "abc", 7, &n));
    OK(sk_channel_close_write(cb));
    EXPECT(sk_channel_read_frame(ca, &b, 5000 * slow_factor()), SK_ERR_PROTOCOL);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

/* ---------- join_fd ---------- */

typedef struct {
    sk_channel *c;
    int fd;
    sk_result rc;
} join_arg;

static void *join_thread(void *p) {
    join_arg *a = p;
    a->rc = sk_channel_join_fd(a->c, a->fd);
    return NULL;
}

static int join_with(int local_fd, int app_fd) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    uint8_t buf[64];
    size_t n = 0;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "join", &cb, &ca)) return 1;
    join_arg ja = {cb, local_fd, SK_ERR_INTERNAL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, join_thread, &ja) == 0);
    /* app -> fd -> channel -> a */
    CHECK(write(app_fd, "to-remote", 9) == 9);
    if (read_full(ca, buf, 9)) return 1;
    CHECK(memcmp(buf, "to-remote", 9) == 0);
    /* a -> channel -> fd -> app */
    OK(sk_channel_write(ca, (const uint8_t *)"to-local", 8, &n));
    size_t got = 0;
    while (got < 8) {
        ssize_t k = read(app_fd, buf + got, 8 - got);
        CHECK(k > 0);
        got += (size_t)k;
    }
    CHECK(memcmp(buf, "to-local", 8) == 0);
    /* Both directions end: join returns SK_OK and closes the fd. */
    OK(sk_channel_close_write(ca));
    CHECK(shutdown(app_fd, SHUT_WR) == 0);
    OK(sk_channel_read(ca, buf, sizeof buf, &n, 5000 * slow_factor()));
    CHECK(n == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(ja.rc == SK_OK);
    CHECK(read(app_fd, buf, sizeof buf) == 0); /* local_fd was closed */
    close(app_fd);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_join_fd_unix_socketpair(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    return join_with(sv[0], sv[1]);
}

static int test_join_fd_tcp_socket(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK(listen(l, 1) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
    int app = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(app, (struct sockaddr *)&sa, sizeof sa) == 0);
    int local = accept(l, NULL, NULL);
    CHECK(local >= 0);
    close(l);
    return join_with(local, app);
}

/* A FIFO opened read-write is a non-socket descriptor that echoes what is
 * written to it: the channel's data comes straight back. Closing the channel
 * from another thread ends the join even though the fd never reaches EOF. */
static int test_join_fd_fifo_and_close(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    char path[128];
    uint8_t buf[16];
    size_t n = 0;
    snprintf(path, sizeof path, "/tmp/sk-ctest-fifo-%d", (int)getpid());
    unlink(path);
    CHECK(mkfifo(path, 0600) == 0);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    unlink(path);
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "fifo", &cb, &ca)) return 1;
    join_arg ja = {cb, fd, SK_ERR_INTERNAL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, join_thread, &ja) == 0);
    OK(sk_channel_write(ca, (const uint8_t *)"ping", 4, &n));
    if (read_full(ca, buf, 4)) return 1;
    CHECK(memcmp(buf, "ping", 4) == 0);
    /* a stops sending: join_fd's channel->fd direction ends, fd->channel waits on. */
    OK(sk_channel_close_write(ca));
    usleep(100000);
    double t0 = now_ms();
    OK(sk_channel_close(cb)); /* from this thread, while join_fd waits on the fd */
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(now_ms() - t0 < 2000.0 * slow_factor());
    if (ja.rc != SK_ERR_CLOSED) fprintf(stderr, "  join_fd returned %s\n", rc_name(ja.rc));
    CHECK(ja.rc == SK_ERR_CLOSED);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF); /* closed by join_fd */
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

/* A regular file: its contents are sent, then end of stream; what the
 * remote side sends is written to the file after them. */
static int test_join_fd_regular_file(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    char path[128];
    uint8_t buf[32];
    size_t n = 0;
    snprintf(path, sizeof path, "/tmp/sk-ctest-file-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, "file-data", 9) == 9);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "file", &cb, &ca)) return 1;
    join_arg ja = {cb, fd, SK_ERR_INTERNAL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, join_thread, &ja) == 0);
    if (read_full(ca, buf, 9)) return 1;
    CHECK(memcmp(buf, "file-data", 9) == 0);
    OK(sk_channel_read(ca, buf, sizeof buf, &n, 5000 * slow_factor()));
    CHECK(n == 0); /* the file's end is the stream's end */
    OK(sk_channel_write(ca, (const uint8_t *)"+more", 5, &n));
    OK(sk_channel_close_write(ca));
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(ja.rc == SK_OK);
    int rfd = open(path, O_RDONLY);
    CHECK(rfd >= 0);
    ssize_t k = read(rfd, buf, sizeof buf);
    close(rfd);
    unlink(path);
    CHECK(k == 14 && memcmp(buf, "file-data+more", 14) == 0);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_join_fd_bad_fd(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    int sv[2];
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "join", &cb, &ca)) return 1;
    EXPECT_MSG(sk_channel_join_fd(cb, -1), SK_ERR_INVALID, "fd = -1");
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    EXPECT_MSG(sk_channel_join_fd(cb, sv[1]), SK_ERR_INVALID, "not an open file descriptor");
    /* An invalid handle still takes ownership of (closes) the fd. */
    EXPECT(sk_channel_join_fd((sk_channel *)(uintptr_t)0x77, sv[0]), SK_ERR_INVALID);
    CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF);
    /* A datagram socket cannot be joined; it is closed too. */
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(d >= 0);
    EXPECT_MSG(sk_channel_join_fd(cb, d), SK_ERR_INVALID, "datagram");
    CHECK(fcntl(d, F_GETFD) == -1 && errno == EBADF);
    /* Joining a closed channel: SK_ERR_CLOSED, fd closed. */
    OK(sk_channel_close(cb));
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    EXPECT(sk_channel_join_fd(cb, sv[0]), SK_ERR_CLOSED);
    CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF);
    close(sv[1]);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

/* ---------- threads ---------- */

typedef struct {
    sk_channel *c;
    sk_peer *p;
    int mode; /* 0 read, 1 read_frame, 2 accept, 3 read_error */
    sk_result rc;
    double t_end;
} block_arg;

static void *blocker(void *p) {
    block_arg *a = p;
    uint8_t buf[16];
    size_t n = 0;
    sk_buf b = {0};
    sk_channel *x = NULL;
    switch (a->mode) {
    case 0: a->rc = sk_channel_read(a->c, buf, sizeof buf, &n, -1); break;
    case 1: a->rc = sk_channel_read_frame(a->c, &b, -1); break;
    case 2: a->rc = sk_peer_accept(a->p, -1, &x); break;
    case 3: a->rc = sk_channel_read_error(a->c, &b, -1); break;
    }
    a->t_end = now_ms();
    sk_buf_free(&b);
    sk_channel_free(x);
    return NULL;
}

/* Start a blocked call, run `unblock` after 200 ms, require SK_ERR_CLOSED within 2 s. */
static int blocked_then(int mode, int how) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "block", &cb, &ca)) return 1;
    block_arg a = {ca, pp.a, mode, SK_OK, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, blocker, &a) == 0);
    usleep(200000);
    double t0 = now_ms();
    switch (how) {
    case 0: OK(sk_channel_close(ca)); break;
    case 1: OK(sk_peer_shutdown(pp.a)); break;
    case 2: sk_channel_free(ca); ca = NULL; break;
    case 3: sk_peer_free(pp.a); pp.a = NULL; break;
    }
    CHECK(pthread_join(t, NULL) == 0);
    if (a.rc != SK_ERR_CLOSED) {
        fprintf(stderr, "  blocked call (mode %d, unblock %d) returned %s\n", mode, how, rc_name(a.rc));
        return 1;
    }
    CHECK(a.t_end - t0 < 2000.0 * slow_factor());
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

static int test_thread_read_vs_close(void) { return blocked_then(0, 0); }
static int test_thread_read_vs_shutdown(void) { return blocked_then(0, 1); }
static int test_thread_read_vs_channel_free(void) { return blocked_then(0, 2); }
static int test_thread_read_frame_vs_close(void) { return blocked_then(1, 0); }
static int test_thread_read_frame_vs_peer_free(void) { return blocked_then(1, 3); }
static int test_thread_read_error_vs_shutdown(void) { return blocked_then(3, 1); }
static int test_thread_accept_vs_shutdown(void) { return blocked_then(2, 1); }
static int test_thread_accept_vs_peer_free(void) { return blocked_then(2, 3); }

typedef struct {
    sk_channel *c;
    int id;
    int frames;
    sk_result rc;
} writer_arg;

static void *frame_writer(void *p) {
    writer_arg *w = p;
    uint8_t msg[32];
    for (int i = 0; i < w->frames; i++) {
        int len = snprintf((char *)msg, sizeof msg, "w%d-%d", w->id, i);
        w->rc = sk_channel_write_frame(w->c, msg, (size_t)len);
        if (w->rc != SK_OK) break;
    }
    return NULL;
}

typedef struct {
    sk_peer *p;
    sk_result rc;
    double t_end;
} connect_arg;

static void *connect_blocker(void *p) {
    connect_arg *a = p;
    a->rc = sk_peer_connect(a->p, "tcp://127.0.0.1:1"); /* nobody listens: retries */
    a->t_end = now_ms();
    return NULL;
}

static int test_thread_connect_vs_shutdown(void) {
    sk_peer *p = NULL;
    OK(sk_peer_new(&p));
    OK(sk_peer_set_option_int(p, SK_OPT_CONNECT_TIMEOUT, 60000));
    connect_arg a = {p, SK_OK, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, connect_blocker, &a) == 0);
    usleep(300000);
    double t0 = now_ms();
    OK(sk_peer_shutdown(p));
    CHECK(pthread_join(t, NULL) == 0);
    if (a.rc != SK_ERR_CLOSED) fprintf(stderr, "  connect returned %s\n", rc_name(a.rc));
    CHECK(a.rc == SK_ERR_CLOSED);
    CHECK(a.t_end - t0 < 2000.0 * slow_factor());
    sk_peer_free(p);
    return 0;
}

static int test_thread_concurrent_frame_writers(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    enum { W = 4, F = 200 };
    writer_arg w[W];
    pthread_t t[W];
    int next[W] = {0};
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "mt", &cb, &ca)) return 1;
    for (int i = 0; i < W; i++) {
        w[i] = (writer_arg){cb, i, F, SK_OK};
        CHECK(pthread_create(&t[i], NULL, frame_writer, &w[i]) == 0);
    }
    /* Every frame arrives whole, and each writer's frames arrive in order. */
    for (int k = 0; k < W * F; k++) {
        sk_buf b = {0};
        OK(sk_channel_read_frame(ca, &b, 10000 * slow_factor()));
        int id = -1, seq = -1;
        char tmp[40];
        CHECK(b.len < sizeof tmp);
        memcpy(tmp, b.data, b.len);
        tmp[b.len] = 0;
        CHECK(sscanf(tmp, "w%d-%d", &id, &seq) == 2);
        CHECK(id >= 0 && id < W && seq == next[id]);
        next[id]++;
        sk_buf_free(&b);
    }
    for (int i = 0; i < W; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(w[i].rc == SK_OK);
    }
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

/* Many threads create, use and free handles at once; stale handles stay invalid. */
static void *handle_churn(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        sk_peer *p = NULL;
        char *s = NULL;
        if (sk_peer_new(&p) != SK_OK) return (void *)1;
        if (sk_peer_set_option_str(p, SK_OPT_NAME, "churn") != SK_OK) return (void *)1;
        if (sk_peer_get_option_str(p, SK_OPT_NAME, &s) != SK_OK || strcmp(s, "churn") != 0) return (void *)1;
        sk_string_free(s);
        sk_peer_free(p);
        if (sk_peer_get_option_str(p, SK_OPT_NAME, &s) != SK_ERR_INVALID) return (void *)1;
    }
    return NULL;
}

static int test_thread_handle_churn(void) {
    enum { T = 8 };
    pthread_t t[T];
    size_t base = sk_live_handles();
    for (int i = 0; i < T; i++) CHECK(pthread_create(&t[i], NULL, handle_churn, NULL) == 0);
    for (int i = 0; i < T; i++) {
        void *ret = (void *)1;
        CHECK(pthread_join(t[i], &ret) == 0);
        CHECK(ret == NULL);
    }
    CHECK(sk_live_handles() == base);
    return 0;
}

static int test_free_peer_with_live_channels(void) {
    size_t base = sk_live_handles();
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    size_t n = 0;
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    if (open_accept(&pp, "orphan", &cb, &ca)) return 1;
    CHECK(sk_live_handles() == base + 4);
    sk_peer_free(pp.a);
    pp.a = NULL;
    /* The channel handle is still valid, but the channel is closed. */
    EXPECT(sk_channel_write(ca, (const uint8_t *)"x", 1, &n), SK_ERR_CLOSED);
    char *s = NULL;
    OK(sk_channel_service(ca, &s));
    CHECK(strcmp(s, "orphan") == 0);
    sk_string_free(s);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    CHECK(sk_live_handles() == base);
    return 0;
}

/* ---------- statistics ---------- */

static int test_stats(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    sk_channel_statistics st;
    sk_conn_statistics_list l = {0};
    sk_buf b = {0};
    uint8_t buf[16];
    size_t n = 0;

    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    OK(sk_peer_open(pp.b, "a", "stats", NULL, 0, &cb));
    OK(sk_peer_accept(pp.a, 5000 * slow_factor(), &ca));
    EXPECT_MSG(sk_channel_stats(cb, NULL), SK_ERR_INVALID, "out is NULL");
    EXPECT_MSG(sk_channel_stats(NULL, &st), SK_ERR_INVALID, "c is NULL");
    EXPECT_MSG(sk_peer_stats(pp.a, NULL), SK_ERR_INVALID, "out is NULL");

    /* 2 frames (4 + 5, 4 + 0) and 6 bytes: 19 bytes, 2 frames. */
    OK(sk_channel_write_frame(cb, (const uint8_t *)"hello", 5));
    OK(sk_channel_write_frame(cb, NULL, 0));
    OK(sk_channel_write(cb, (const uint8_t *)"bytes!", 6, &n));
    OK(sk_channel_read_frame(ca, &b, 5000 * slow_factor()));
    sk_buf_free(&b);
    OK(sk_channel_read_frame(ca, &b, 5000 * slow_factor()));
    sk_buf_free(&b);
    OK(sk_channel_stats(cb, &st));
    CHECK(st.bytes_sent == 19 && st.frames_sent == 2 && st.bytes_received == 0);
    CHECK(st.recv_window > 0 && st.send_credit > 0);
    CHECK(st.send_blocked_ms == 0.0 && st.recv_unread_ms == 0.0);
    /* the receiver counts bytes as they arrive: wait for all 19 */
    for (int i = 0; i < 6000; i++) {
        OK(sk_channel_stats(ca, &st));
        if (st.bytes_received == 19) break;
        usleep(10000);
    }
    CHECK(st.bytes_received == 19 && st.frames_received == 2);
    CHECK(st.recv_buffered == 6); /* the byte-stream tail is unread */
    if (read_full(ca, buf, 6)) return 1;
    OK(sk_channel_stats(ca, &st));
    CHECK(st.recv_buffered == 0);

    /* The connection, from both ends. */
    OK(sk_peer_stats(pp.b, &l));
    CHECK(l.len == 1);
    CHECK(strcmp(l.items[0].peer, "a") == 0);
    CHECK(strncmp(l.items[0].endpoint, "tcp://127.0.0.1:", 16) == 0);
    CHECK(strncmp(l.items[0].fingerprint, "SHA256:", 7) == 0);
    CHECK(l.items[0].bytes_sent == 19 && l.items[0].channels == 1);
    CHECK(l.items[0].rtt_ms > 0.0); /* the hello exchange */
    CHECK(l.items[0].connected_ms >= 0.0);
    sk_conn_stats_list_free(&l);
    CHECK(l.items == NULL && l.len == 0);
    sk_conn_stats_list_free(&l); /* harmless after reset */
    sk_conn_stats_list_free(NULL);
    OK(sk_peer_stats(pp.a, &l));
    CHECK(l.len == 1 && strcmp(l.items[0].peer, "b") == 0 && l.items[0].bytes_received == 19);
    sk_conn_stats_list_free(&l);

    OK(sk_channel_close(cb));
    OK(sk_channel_stats(cb, &st)); /* the final figures stay readable */
    CHECK(st.bytes_sent == 19);
    sk_channel_free(ca);
    sk_channel_free(cb);
    free_pair(&pp);
    return 0;
}

/* The next event of `kind` (others skipped); a liveness bound only. */
static int next_event_of(sk_peer *p, sk_event_kind_t kind, sk_event **out) {
    for (;;) {
        sk_event *e = NULL;
        OK(sk_peer_next_event(p, 30000 * slow_factor(), &e));
        if (sk_event_kind(e) == kind) {
            *out = e;
            return 0;
        }
        sk_event_free(e);
    }
}

static int test_events(void) {
    pair pp;
    sk_event *e = NULL;
    sk_channel *chans[4] = {NULL};
    /* Bad input. */
    CHECK(sk_event_kind(NULL) == SK_EVENT_NONE);
    CHECK(sk_event_peer(NULL) == NULL && sk_event_reason(NULL) == NULL);
    CHECK(sk_event_endpoint(NULL) == NULL && sk_event_fingerprint(NULL) == NULL);
    sk_event_free(NULL);
    EXPECT(sk_peer_next_event(NULL, 0, &e), SK_ERR_INVALID);
    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    EXPECT(sk_peer_next_event(pp.a, 0, NULL), SK_ERR_INVALID);
    EXPECT_MSG(sk_peer_next_event(pp.a, -2, &e), SK_ERR_INVALID, "timeout_ms");
    /* connected, both sides */
    if (next_event_of(pp.a, SK_EVENT_CONNECTED, &e)) return 1;
    CHECK(strcmp(sk_event_peer(e), "b") == 0);
    CHECK(strncmp(sk_event_fingerprint(e), "SHA256:", 7) == 0);
    CHECK(strncmp(sk_event_endpoint(e), "tcp://127.0.0.1:", 16) == 0);
    sk_event_free(e);
    if (next_event_of(pp.b, SK_EVENT_CONNECTED, &e)) return 1;
    CHECK(strcmp(sk_event_peer(e), "a") == 0);
    CHECK(strcmp(sk_event_endpoint(e), pp.endpoint) == 0);
    sk_event_free(e);
    EXPECT(sk_peer_next_event(pp.a, 0, &e), SK_ERR_TIMEOUT);
    /* refused: a backlog of 1 that nobody accepts from */
    OK(sk_peer_set_option_int(pp.a, SK_OPT_ACCEPT_BACKLOG, 1));
    for (int i = 0; i < 4; i++) OK(sk_peer_open(pp.b, "a", "x", NULL, 0, &chans[i]));
    if (next_event_of(pp.a, SK_EVENT_REFUSED, &e)) return 1;
    CHECK(strstr(sk_event_reason(e), "ACCEPT_BACKLOG") != NULL);
    CHECK(strcmp(sk_event_peer(e), "b") == 0);
    sk_event_free(e);
    for (int i = 0; i < 4; i++) sk_channel_free(chans[i]);
    /* auth_failed: c is not trusted by a */
    sk_peer *c = NULL;
    char *ka = NULL;
    if (new_peer(&c, "c")) return 1;
    OK(sk_peer_public_key(pp.a, &ka));
    OK(sk_peer_set_option_str(c, SK_OPT_AUTHORIZED_KEYS, ka));
    EXPECT(sk_peer_connect(c, pp.endpoint), SK_ERR_AUTH);
    if (next_event_of(pp.a, SK_EVENT_AUTH_FAILED, &e)) return 1;
    CHECK(strcmp(sk_event_peer(e), "c") == 0);
    CHECK(strncmp(sk_event_fingerprint(e), "SHA256:", 7) == 0);
    sk_event_free(e);
    if (next_event_of(c, SK_EVENT_AUTH_FAILED, &e)) return 1;
    CHECK(strstr(sk_event_reason(e), "refused our key") != NULL);
    sk_event_free(e);
    sk_string_free(ka);
    sk_peer_free(c);
    /* disconnected (with the server's description), then reconnecting */
    OK(sk_peer_set_option_int(pp.b, SK_OPT_RECONNECT_INTERVAL, 20));
    OK(sk_peer_shutdown(pp.a));
    if (next_event_of(pp.b, SK_EVENT_DISCONNECTED, &e)) return 1;
    CHECK(strstr(sk_event_reason(e), "peer shut down") != NULL);
    sk_event_free(e);
    if (next_event_of(pp.b, SK_EVENT_RECONNECTING, &e)) return 1;
    CHECK(strstr(sk_event_reason(e), "attempt 1") != NULL);
    CHECK(strcmp(sk_event_endpoint(e), pp.endpoint) == 0);
    sk_event_free(e);
    /* after shutdown: the rest, then SK_ERR_CLOSED */
    for (;;) {
        sk_result r = sk_peer_next_event(pp.a, 30000 * slow_factor(), &e);
        if (r == SK_ERR_CLOSED) break;
        OK(r);
        sk_event_free(e);
    }
    free_pair(&pp);
    return 0;
}

/* ---------- a connection over a file descriptor ---------- */

typedef struct {
    sk_peer *p;
    int fd;
    sk_result rc;
} serve_fd_arg;

static void *serve_fd_thread(void *arg) {
    serve_fd_arg *a = arg;
    a->rc = sk_peer_serve_fd(a->p, a->fd);
    return NULL;
}

static int test_connect_fd(void) {
    sk_peer *a = NULL, *b = NULL;
    sk_channel *cb = NULL, *ca = NULL;
    sk_buf buf = {0};
    char *remote = NULL;
    int sv[2];
    size_t base = sk_live_handles();

    if (new_peer(&a, "a") || new_peer(&b, "b")) return 1;
    /* bad input: the descriptor is checked first, then the handle */
    EXPECT_MSG(sk_peer_connect_fd(b, -1), SK_ERR_INVALID, "fd = -1");
    EXPECT_MSG(sk_peer_serve_fd(a, 1000), SK_ERR_INVALID, "not an open file descriptor");
    {
        char path[] = "/tmp/sk-test-fd-XXXXXX";
        int f = mkstemp(path);
        CHECK(f >= 0);
        unlink(path);
        EXPECT_MSG(sk_peer_connect_fd(b, f), SK_ERR_INVALID, "regular file");
        CHECK(fcntl(f, F_GETFD) < 0); /* it was closed anyway */
    }
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    EXPECT_MSG(sk_peer_connect_fd(NULL, sv[0]), SK_ERR_INVALID, "p is NULL");
    CHECK(fcntl(sv[0], F_GETFD) < 0); /* closed although the handle was bad */
    close(sv[1]);

    /* untrusted: the server refuses the client's key */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    {
        char *ka = NULL;
        OK(sk_peer_public_key(a, &ka));
        OK(sk_peer_set_option_str(b, SK_OPT_AUTHORIZED_KEYS, ka));
        OK(sk_peer_set_option_str(a, SK_OPT_AUTHORIZED_KEYS, ""));
        sk_string_free(ka);
    }
    serve_fd_arg s = {a, sv[0], SK_OK};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, serve_fd_thread, &s) == 0);
    EXPECT_MSG(sk_peer_connect_fd(b, sv[1]), SK_ERR_AUTH, "AUTHORIZED_KEYS");
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(s.rc == SK_ERR_CLOSED);

    /* trusted: a full connection over a socketpair */
    if (trust_each_other(a, b)) return 1;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    s = (serve_fd_arg){a, sv[0], SK_OK};
    CHECK(pthread_create(&t, NULL, serve_fd_thread, &s) == 0);
    OK(sk_peer_connect_fd(b, sv[1]));
    CHECK(pthread_join(t, NULL) == 0);
    OK(s.rc);
    if (wait_peer_count(a, 1) || wait_peer_count(b, 1)) return 1;
    OK(sk_peer_open(b, "a", "fd-echo", NULL, 0, &cb));
    OK(sk_peer_accept(a, 5000 * slow_factor(), &ca));
    OK(sk_channel_remote_peer(ca, &remote));
    CHECK(strcmp(remote, "b") == 0);
    sk_string_free(remote);
    OK(sk_channel_write_frame(cb, (const uint8_t *)"via fd", 6));
    OK(sk_channel_read_frame(ca, &buf, 5000 * slow_factor()));
    CHECK(buf.len == 6 && memcmp(buf.data, "via fd", 6) == 0);
    sk_buf_free(&buf);
    sk_channel_free(ca);
    sk_channel_free(cb);
    /* no reconnect after the stream is gone */
    OK(sk_peer_drop(a, "b"));
    if (wait_peer_count(b, 0)) return 1;
    usleep(300000);
    if (wait_peer_count(b, 0)) return 1;
    sk_peer_free(a);
    sk_peer_free(b);
    CHECK(sk_live_handles() == base);
    return 0;
}

/* ---------- readiness descriptors for poll(2) ---------- */

/* poll(2) one descriptor for POLLIN; ms = -1 waits forever. */
static int fd_readable(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int n = poll(&p, 1, ms);
    return n == 1 && (p.revents & POLLIN);
}

static int test_poll_fd(void) {
    pair pp;
    sk_channel *cb = NULL, *ca = NULL;
    sk_event *ev = NULL;
    sk_buf b = {0};
    uint8_t buf[8];
    size_t n = 0;
    int pfd = -1, cfd = -1, again = -1;
    int live = 30000 * slow_factor(); /* a liveness bound only */

    if (make_pair(&pp, "tcp://127.0.0.1:0")) return 1;
    EXPECT_MSG(sk_peer_fd(pp.a, NULL), SK_ERR_INVALID, "fd is NULL");
    EXPECT_MSG(sk_peer_fd(NULL, &pfd), SK_ERR_INVALID, "p is NULL");
    OK(sk_peer_fd(pp.a, &pfd));
    OK(sk_peer_fd(pp.a, &again));
    CHECK(pfd >= 0 && again == pfd);
    /* the peer's events from connecting are queued: readable until taken */
    CHECK(fd_readable(pfd, live));
    while (sk_peer_next_event(pp.a, 0, &ev) == SK_OK) sk_event_free(ev);
    CHECK(!fd_readable(pfd, 0));

    /* a channel to accept */
    OK(sk_peer_open(pp.b, "a", "poll", NULL, 0, &cb));
    CHECK(fd_readable(pfd, live));
    EXPECT(sk_peer_next_event(pp.a, 0, &ev), SK_ERR_TIMEOUT);
    OK(sk_peer_accept(pp.a, 0, &ca));
    CHECK(!fd_readable(pfd, 0));

    /* channel: bytes, then a frame reader that waits for whole frames */
    EXPECT_MSG(sk_channel_fd(ca, NULL), SK_ERR_INVALID, "fd is NULL");
    OK(sk_channel_fd(ca, &cfd));
    CHECK(cfd >= 0 && cfd != pfd);
    CHECK(!fd_readable(cfd, 0));
    OK(sk_channel_write(cb, (const uint8_t *)"hi", 2, &n));
    CHECK(fd_readable(cfd, live));
    OK(sk_channel_read(ca, buf, 1, &n, 0));
    CHECK(n == 1 && buf[0] == 'h');
    CHECK(fd_readable(cfd, 0)); /* one byte left: level-triggered */
    OK(sk_channel_read(ca, buf, sizeof buf, &n, 0));
    CHECK(n == 1 && buf[0] == 'i');
    CHECK(!fd_readable(cfd, 0));
    EXPECT(sk_channel_read(ca, buf, sizeof buf, &n, 0), SK_ERR_TIMEOUT);

    EXPECT(sk_channel_read_frame(ca, &b, 0), SK_ERR_TIMEOUT); /* now a frame reader */
    OK(sk_channel_write(cb, (const uint8_t *)"\0\0\0\3ab", 6, &n));
    /* poll until the half frame has surely arrived: a second channel's
       frame, sent after it on the same connection, has been read */
    {
        sk_channel *p1 = NULL, *p2 = NULL;
        OK(sk_peer_open(pp.b, "a", "probe", NULL, 0, &p1));
        OK(sk_peer_accept(pp.a, live, &p2));
        OK(sk_channel_write_frame(p1, (const uint8_t *)"p", 1));
        OK(sk_channel_read_frame(p2, &b, live));
        sk_buf_free(&b);
        sk_channel_free(p1);
        sk_channel_free(p2);
    }
    CHECK(!fd_readable(cfd, 0)); /* 3 of 7 bytes of the first frame */
    OK(sk_channel_write(cb, (const uint8_t *)"c", 1, &n));
    CHECK(fd_readable(cfd, live));
    OK(sk_channel_read_frame(ca, &b, 0));
    CHECK(b.len == 3 && memcmp(b.data, "abc", 3) == 0);
    sk_buf_free(&b);
    CHECK(!fd_readable(cfd, 0));

    /* an error frame, then the end of stream (stays readable) */
    OK(sk_channel_write_error(cb, (const uint8_t *)"e", 1));
    CHECK(fd_readable(cfd, live));
    OK(sk_channel_read_error(ca, &b, 0));
    sk_buf_free(&b);
    CHECK(!fd_readable(cfd, 0));
    OK(sk_channel_close_write(cb));
    CHECK(fd_readable(cfd, live));
    EXPECT(sk_channel_read_frame(ca, &b, 0), SK_ERR_EOF);
    CHECK(fd_readable(cfd, 0));

    sk_channel_free(ca);
    sk_channel_free(cb);
    /* shut down: accept fails at once, so the peer's descriptor is readable */
    OK(sk_peer_shutdown(pp.a));
    CHECK(fd_readable(pfd, live));
    free_pair(&pp);
    return 0;
}

int main(int argc, char **argv) {
    static const test_case tests[] = {
        {"runtime_threads", test_runtime_threads},
        {"version_and_last_error", test_version_and_last_error},
        {"null_arguments", test_null_arguments},
        {"invalid_utf8", test_invalid_utf8},
        {"handles_checked", test_handles_checked},
        {"options", test_options},
        {"endpoints", test_endpoints},
        {"tcp_stream", test_tcp_stream},
        {"unix_stream", test_unix_stream},
        {"inproc_stream", test_inproc_stream},
        {"large_transfer", test_large_transfer},
        {"peers_next_drop_disconnect", test_peers_next_drop_disconnect},
        {"child_channels", test_child_channels},
        {"timeouts", test_timeouts},
        {"auth_rejected", test_auth_rejected},
        {"closed", test_closed},
        {"read_frames", test_read_frames},
        {"freed_channel_handle_in_use", test_freed_channel_handle_in_use},
        {"protocol_frame_too_large", test_protocol_frame_too_large},
        {"truncated_frame_is_protocol_error", test_truncated_frame_is_protocol_error},
        {"join_fd_unix_socketpair", test_join_fd_unix_socketpair},
        {"join_fd_tcp_socket", test_join_fd_tcp_socket},
        {"join_fd_fifo_and_close", test_join_fd_fifo_and_close},
        {"join_fd_regular_file", test_join_fd_regular_file},
        {"join_fd_bad_fd", test_join_fd_bad_fd},
        {"thread_read_vs_close", test_thread_read_vs_close},
        {"thread_read_vs_shutdown", test_thread_read_vs_shutdown},
        {"thread_read_vs_channel_free", test_thread_read_vs_channel_free},
        {"thread_read_frame_vs_close", test_thread_read_frame_vs_close},
        {"thread_read_frame_vs_peer_free", test_thread_read_frame_vs_peer_free},
        {"thread_read_error_vs_shutdown", test_thread_read_error_vs_shutdown},
        {"thread_accept_vs_shutdown", test_thread_accept_vs_shutdown},
        {"thread_accept_vs_peer_free", test_thread_accept_vs_peer_free},
        {"thread_connect_vs_shutdown", test_thread_connect_vs_shutdown},
        {"thread_concurrent_frame_writers", test_thread_concurrent_frame_writers},
        {"thread_handle_churn", test_thread_handle_churn},
        {"free_peer_with_live_channels", test_free_peer_with_live_channels},
        {"stats", test_stats},
        {"events", test_events},
        {"connect_fd", test_connect_fd},
        {"poll_fd", test_poll_fd},
    };
    int rc = run_tests("test_api", tests, sizeof tests / sizeof tests[0], argc, argv);
    if (rc == 0 && argc <= 1 && sk_live_handles() != 0) {
        fprintf(stderr, "leaked %zu handles\n", sk_live_handles());
        rc = 1;
    }
    return rc;
}
