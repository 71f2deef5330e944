/*
 * poll_echo.c - an event-loop server: one thread, poll(2), many channels.
 *
 * "server" serves the "echo" service from a single thread that waits on
 * descriptors instead of blocking in streamkit calls: sk_peer_fd is
 * readable while a channel (or an event) is waiting, sk_channel_fd while a
 * read would not block. Both are level-triggered, so the loop reads with
 * timeout 0 after every wake-up and goes back to poll() on SK_ERR_TIMEOUT.
 * The same descriptors work with epoll, libuv (uv_poll_t) or GLib
 * (g_unix_fd_add); never read, write or close them.
 *
 * "client" (on a second thread, blocking calls) opens CHANNELS channels
 * and sends each a few frames; the program checks every reply.
 *
 * Build like echo.c; run: ./poll_echo [channels]
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <streamkit.h>

#define TRY(call)                                                                     \
    do {                                                                              \
        sk_result rc_ = (call);                                                       \
        if (rc_ != SK_OK) {                                                           \
            fprintf(stderr, "%s failed (%d): %s\n", #call, (int)rc_, sk_last_error()); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define MAX_CHANNELS 64
#define FRAMES 3

static sk_peer *make_peer(const char *name) {
    sk_peer *p = NULL;
    char *key = NULL;
    TRY(sk_peer_new(&p));
    TRY(sk_generate_key(&key));
    TRY(sk_peer_set_option_str(p, SK_OPT_PRIVATE_KEY, key));
    sk_string_free(key);
    TRY(sk_peer_set_option_str(p, SK_OPT_NAME, name));
    return p;
}

static void trust(sk_peer *who, sk_peer *whom) {
    char *pub = NULL;
    TRY(sk_peer_public_key(whom, &pub));
    TRY(sk_peer_set_option_str(who, SK_OPT_AUTHORIZED_KEYS, pub));
    sk_string_free(pub);
}

typedef struct {
    sk_peer *client;
    int channels;
    int ok;
} client_arg;

/* The client: every channel sends FRAMES frames, then half-closes. */
static void *client_main(void *arg) {
    client_arg *a = arg;
    sk_channel *ch[MAX_CHANNELS];
    for (int i = 0; i < a->channels; i++) TRY(sk_peer_open(a->client, "server", "echo", NULL, 0, &ch[i]));
    for (int f = 0; f < FRAMES; f++)
        for (int i = 0; i < a->channels; i++) {
            char msg[32];
            int len = snprintf(msg, sizeof msg, "channel %d frame %d", i, f);
            TRY(sk_channel_write_frame(ch[i], (const uint8_t *)msg, (size_t)len));
        }
    int good = 0;
    for (int i = 0; i < a->channels; i++) {
        TRY(sk_channel_close_write(ch[i]));
        for (int f = 0; f < FRAMES; f++) {
            char want[32];
            int len = snprintf(want, sizeof want, "channel %d frame %d", i, f);
            sk_buf reply = {0};
            TRY(sk_channel_read_frame(ch[i], &reply, 30000));
            good += reply.len == (size_t)len && memcmp(reply.data, want, (size_t)len) == 0;
            sk_buf_free(&reply);
        }
        sk_channel_free(ch[i]);
    }
    a->ok = good == a->channels * FRAMES;
    printf("client: %d of %d replies correct\n", good, a->channels * FRAMES);
    return NULL;
}

int main(int argc, char **argv) {
    int channels = argc > 1 ? atoi(argv[1]) : 8;
    if (channels < 1 || channels > MAX_CHANNELS) {
        fprintf(stderr, "channels must be 1 to %d\n", MAX_CHANNELS);
        return 2;
    }
    sk_peer *server = make_peer("server");
    client_arg ca = {make_peer("client"), channels, 0};
    trust(server, ca.client);
    trust(ca.client, server);
    char *endpoint = NULL;
    TRY(sk_peer_bind(server, "tcp://127.0.0.1:0", &endpoint));
    TRY(sk_peer_connect(ca.client, endpoint));
    pthread_t t;
    if (pthread_create(&t, NULL, client_main, &ca) != 0) return 1;

    /* The event loop: slot 0 is the peer, then one slot per open channel. */
    struct pollfd fds[1 + MAX_CHANNELS];
    sk_channel *chans[1 + MAX_CHANNELS];
    int n = 1, finished = 0, events = 0;
    TRY(sk_peer_fd(server, &fds[0].fd));
    fds[0].events = POLLIN;
    while (finished < channels) {
        if (poll(fds, (nfds_t)n, 30000) <= 0) {
            fprintf(stderr, "server: nothing happened for 30 s\n");
            return 1;
        }
        if (fds[0].revents & POLLIN) {
            sk_event *ev = NULL;
            while (sk_peer_next_event(server, 0, &ev) == SK_OK) {
                events++;
                sk_event_free(ev);
            }
            sk_channel *c = NULL;
            while (n <= MAX_CHANNELS && sk_peer_accept(server, 0, &c) == SK_OK) {
                chans[n] = c;
                TRY(sk_channel_fd(c, &fds[n].fd));
                fds[n].events = POLLIN;
                fds[n].revents = 0;
                n++;
            }
        }
        for (int i = 1; i < n; i++) {
            if (!(fds[i].revents & POLLIN)) continue;
            sk_buf frame = {0};
            sk_result rc;
            while ((rc = sk_channel_read_frame(chans[i], &frame, 0)) == SK_OK) {
                TRY(sk_channel_write_frame(chans[i], frame.data, frame.len));
                sk_buf_free(&frame);
            }
            if (rc == SK_ERR_TIMEOUT) continue; /* nothing more for now */
            if (rc != SK_ERR_EOF) fprintf(stderr, "server read: %s\n", sk_last_error());
            sk_channel_free(chans[i]); /* ended: drop it from the loop */
            chans[i] = chans[n - 1];
            fds[i] = fds[n - 1];
            n--;
            i--;
            finished++;
        }
    }
    printf("server: served %d channels from one thread (%d events)\n", finished, events);
    pthread_join(t, NULL);
    TRY(sk_peer_shutdown(server));
    sk_peer_free(ca.client);
    sk_peer_free(server);
    sk_string_free(endpoint);
    return ca.ok ? 0 : 1;
}
