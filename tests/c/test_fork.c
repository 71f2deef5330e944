/*
 * Two peers in two processes over TCP. The parent forks and re-executes
 * this program as the child (a forked copy of a multi-threaded process must
 * not call back into the library before exec). Keys and the endpoint are
 * exchanged over pipes (fds 3 and 4 in the child).
 *
 *   echo:  the child opens "echo", sends frames, bytes, an error frame and
 *          trailers; the parent echoes frames back until EOF.
 *   crash: the child opens a channel and is SIGKILLed; the parent's blocked
 *          read must fail with SK_ERR_CLOSED promptly.
 */
#include "common.h"

#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

static int write_line(int fd, const char *s) {
    size_t len = strlen(s);
    if (write(fd, s, len) != (ssize_t)len) return -1;
    if (write(fd, "\n", 1) != 1) return -1;
    return 0;
}

/* Read one line (without the newline) into a malloc'd string; NULL on EOF/error. */
static char *read_line(int fd) {
    size_t cap = 256, len = 0;
    char *s = malloc(cap);
    for (;;) {
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k <= 0) {
            free(s);
            return NULL;
        }
        if (c == '\n') break;
        if (len + 2 > cap) s = realloc(s, cap *= 2);
        s[len++] = c;
    }
    s[len] = 0;
    return s;
}

/* ---------- child ---------- */

static int child_main(const char *mode) {
    int in = 3, out = 4;
    sk_peer *p = NULL;
    char *pub = NULL;
    if (new_peer(&p, "child")) return 10;
    OK(sk_peer_public_key(p, &pub));
    CHECK(write_line(out, pub) == 0);
    sk_string_free(pub);
    char *parent_key = read_line(in);
    char *endpoint = read_line(in);
    CHECK(parent_key && endpoint);
    OK(sk_peer_set_option_str(p, SK_OPT_AUTHORIZED_KEYS, parent_key));
    OK(sk_peer_connect(p, endpoint));
    free(parent_key);
    free(endpoint);

    const char *headers[] = {"pid=child", "mode=test"};
    sk_channel *c = NULL;
    OK(sk_peer_open(p, "parent", "echo", headers, 2, &c));

    if (strcmp(mode, "crash") == 0) {
        OK(sk_channel_write_frame(c, (const uint8_t *)"about to die", 12));
        CHECK(write_line(out, "opened") == 0);
        pause(); /* SIGKILLed by the parent */
        return 11;
    }

    sk_buf b = {0};
    for (int i = 0; i < 50; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "frame %d", i);
        OK(sk_channel_write_frame(c, (const uint8_t *)msg, (size_t)len));
        OK(sk_channel_read_frame(c, &b, 10000 * slow_factor()));
        CHECK(b.len == (size_t)len && memcmp(b.data, msg, b.len) == 0);
        sk_buf_free(&b);
    }
    OK(sk_channel_write_error(c, (const uint8_t *)"warn", 4));
    const char *trailers[] = {"frames=50"};
    OK(sk_channel_write_trailers(c, trailers, 1));
    OK(sk_channel_close_write(c));
    /* The parent finishes with its own trailers and closes. */
    EXPECT(sk_channel_read_frame(c, &b, 10000 * slow_factor()), SK_ERR_EOF);
    sk_strlist l = {0};
    OK(sk_channel_trailers(c, &l));
    CHECK(l.len == 1 && strcmp(l.items[0], "echoed=50") == 0);
    sk_strlist_free(&l);
    sk_channel_free(c);
    sk_peer_free(p);
    CHECK(sk_live_handles() == 0);
    return 0;
}

/* ---------- parent ---------- */

typedef struct {
    pid_t pid;
    int to_child, from_child;
} child_proc;

static int spawn_child(const char *self, const char *mode, child_proc *cp) {
    int p2c[2], c2p[2];
    CHECK(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        if (dup2(p2c[0], 3) < 0 || dup2(c2p[1], 4) < 0) _exit(127);
        execl(self, self, "--child", mode, (char *)NULL);
        _exit(127);
    }
    close(p2c[0]);
    close(c2p[1]);
    cp->pid = pid;
    cp->to_child = p2c[1];
    cp->from_child = c2p[0];
    return 0;
}

/* Create the parent peer, exchange keys with the child, bind and tell it where. */
static int parent_setup(child_proc *cp, sk_peer **out) {
    sk_peer *p = NULL;
    char *pub = NULL, *ep = NULL;
    if (new_peer(&p, "parent")) return 1;
    char *child_key = read_line(cp->from_child);
    CHECK(child_key);
    OK(sk_peer_set_option_str(p, SK_OPT_AUTHORIZED_KEYS, child_key));
    free(child_key);
    OK(sk_peer_public_key(p, &pub));
    OK(sk_peer_bind(p, "tcp://127.0.0.1:0", &ep));
    CHECK(write_line(cp->to_child, pub) == 0);
    CHECK(write_line(cp->to_child, ep) == 0);
    sk_string_free(pub);
    sk_string_free(ep);
    *out = p;
    return 0;
}

static int wait_child(child_proc *cp, int *status) {
    close(cp->to_child);
    close(cp->from_child);
    CHECK(waitpid(cp->pid, status, 0) == cp->pid);
    return 0;
}

static const char *g_self;

static int test_two_process_echo(void) {
    child_proc cp;
    sk_peer *p = NULL;
    sk_channel *c = NULL;
    char *s = NULL;
    sk_strlist l = {0};
    sk_buf b = {0};
    int status = 0;
    if (spawn_child(g_self, "echo", &cp)) return 1;
    if (parent_setup(&cp, &p)) return 1;
    OK(sk_peer_accept(p, 20000 * slow_factor(), &c));
    OK(sk_channel_service(c, &s));
    CHECK(strcmp(s, "echo") == 0);
    sk_string_free(s);
    OK(sk_channel_remote_peer(c, &s));
    CHECK(strcmp(s, "child") == 0);
    sk_string_free(s);
    OK(sk_channel_headers(c, &l));
    CHECK(l.len == 2 && strcmp(l.items[0], "pid=child") == 0);
    sk_strlist_free(&l);
    int frames = 0;
    sk_result r;
    while ((r = sk_channel_read_frame(c, &b, 20000 * slow_factor())) == SK_OK) {
        OK(sk_channel_write_frame(c, b.data, b.len));
        sk_buf_free(&b);
        frames++;
    }
    CHECK(r == SK_ERR_EOF);
    CHECK(frames == 50);
    OK(sk_channel_read_error(c, &b, 5000 * slow_factor()));
    CHECK(b.len == 4 && memcmp(b.data, "warn", 4) == 0);
    sk_buf_free(&b);
    OK(sk_channel_trailers(c, &l));
    CHECK(l.len == 1 && strcmp(l.items[0], "frames=50") == 0);
    sk_strlist_free(&l);
    const char *trailers[] = {"echoed=50"};
    OK(sk_channel_write_trailers(c, trailers, 1));
    OK(sk_channel_close(c));
    if (wait_child(&cp, &status)) return 1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "  child failed: status %d\n", status);
        return 1;
    }
    sk_channel_free(c);
    sk_peer_free(p);
    return 0;
}

static int test_two_process_crash(void) {
    child_proc cp;
    sk_peer *p = NULL;
    sk_channel *c = NULL;
    sk_buf b = {0};
    int status = 0;
    if (spawn_child(g_self, "crash", &cp)) return 1;
    if (parent_setup(&cp, &p)) return 1;
    OK(sk_peer_accept(p, 20000 * slow_factor(), &c));
    OK(sk_channel_read_frame(c, &b, 10000 * slow_factor()));
    CHECK(b.len == 12);
    sk_buf_free(&b);
    char *line = read_line(cp.from_child);
    CHECK(line && strcmp(line, "opened") == 0);
    free(line);
    CHECK(kill(cp.pid, SIGKILL) == 0);
    double t0 = now_ms();
    EXPECT_MSG(sk_channel_read_frame(c, &b, 20000 * slow_factor()), SK_ERR_CLOSED, "closed");
    CHECK(now_ms() - t0 < 5000.0 * slow_factor());
    if (wait_child(&cp, &status)) return 1;
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    sk_channel_free(c);
    sk_peer_free(p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        int rc = child_main(argv[2]);
        if (rc) fprintf(stderr, "  child (%s) failed with %d\n", argv[2], rc);
        return rc;
    }
    static char self[4096];
    if (!realpath(argv[0], self)) {
        perror("realpath");
        return 1;
    }
    g_self = self;
    static const test_case tests[] = {
        {"two_process_echo", test_two_process_echo},
        {"two_process_crash", test_two_process_crash},
    };
    int rc = run_tests("test_fork", tests, sizeof tests / sizeof tests[0], argc, argv);
    if (rc == 0 && sk_live_handles() != 0) {
        fprintf(stderr, "leaked %zu handles\n", sk_live_handles());
        rc = 1;
    }
    return rc;
}
