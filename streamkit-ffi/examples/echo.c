/*
 * echo.c - a complete streamkit program in C.
 *
 * Two peers in one process: "server" binds a TCP port and echoes every
 * frame it receives on the "echo" service; "client" connects, sends a few
 * frames and prints the replies. Each peer has its own key and trusts only
 * the other's public key, exactly as two programs on two machines would.
 *
 * Build (after `cargo build --release -p streamkit-ffi`, from the repo root):
 *   cc -Wall -o echo streamkit-ffi/examples/echo.c -Iinclude \
 *      -Ltarget/release -lstreamkit -Wl,-rpath,"$PWD/target/release"
 * or, with streamkit installed (see README.md):
 *   cc -o echo echo.c $(pkg-config --cflags --libs streamkit)
 *
 * Run: ./echo [message ...]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <streamkit.h>

/* Print the failing call and streamkit's message, then exit. */
#define TRY(call)                                                                     \
    do {                                                                              \
        sk_result rc_ = (call);                                                       \
        if (rc_ != SK_OK) {                                                           \
            fprintf(stderr, "%s failed (%d): %s\n", #call, (int)rc_, sk_last_error()); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* A peer with its own fresh ed25519 key. */
static sk_peer *make_peer(const char *name) {
    sk_peer *p = NULL;
    char *key = NULL;
    TRY(sk_peer_new(&p));
    TRY(sk_generate_key(&key)); /* or a path such as "/home/me/.ssh/id_ed25519" */
    TRY(sk_peer_set_option_str(p, SK_OPT_PRIVATE_KEY, key));
    sk_string_free(key);
    TRY(sk_peer_set_option_str(p, SK_OPT_NAME, name));
    return p;
}

/* Let `who` trust `whom` (the option takes authorized_keys text or a path). */
static void trust(sk_peer *who, sk_peer *whom) {
    char *pub = NULL;
    TRY(sk_peer_public_key(whom, &pub));
    TRY(sk_peer_set_option_str(who, SK_OPT_AUTHORIZED_KEYS, pub));
    sk_string_free(pub);
}

/* Server loop: accept channels and echo their frames until the peer shuts down. */
static void *serve(void *arg) {
    sk_peer *server = arg;
    for (;;) {
        sk_channel *ch = NULL;
        sk_result rc = sk_peer_accept(server, -1, &ch);
        if (rc == SK_ERR_CLOSED) break; /* sk_peer_shutdown was called */
        if (rc != SK_OK) {
            fprintf(stderr, "accept: %s\n", sk_last_error());
            break;
        }
        char *remote = NULL;
        TRY(sk_channel_remote_peer(ch, &remote));
        printf("server: channel from %s\n", remote);
        sk_string_free(remote);

        sk_buf frame = {0};
        while ((rc = sk_channel_read_frame(ch, &frame, -1)) == SK_OK) {
            TRY(sk_channel_write_frame(ch, frame.data, frame.len));
            sk_buf_free(&frame);
        }
        if (rc != SK_ERR_EOF) fprintf(stderr, "server read: %s\n", sk_last_error());
        sk_channel_free(ch); /* closes it */
    }
    return NULL;
}

int main(int argc, char **argv) {
    printf("streamkit %s\n", sk_version());
    sk_peer *server = make_peer("server");
    sk_peer *client = make_peer("client");
    trust(server, client);
    trust(client, server);

    char *endpoint = NULL;
    TRY(sk_peer_bind(server, "tcp://127.0.0.1:0", &endpoint));
    printf("server: listening on %s\n", endpoint);
    pthread_t t;
    if (pthread_create(&t, NULL, serve, server) != 0) return 1;

    TRY(sk_peer_connect(client, endpoint));
    sk_channel *ch = NULL;
    const char *headers[] = {"lang=c"};
    TRY(sk_peer_open(client, "server", "echo", headers, 1, &ch));

    const char *defaults[] = {"hello", "streamkit"};
    int n = argc > 1 ? argc - 1 : 2;
    for (int i = 0; i < n; i++) {
        const char *msg = argc > 1 ? argv[i + 1] : defaults[i];
        TRY(sk_channel_write_frame(ch, (const uint8_t *)msg, strlen(msg)));
        sk_buf reply = {0};
        TRY(sk_channel_read_frame(ch, &reply, 5000));
        printf("client: echoed \"%.*s\"\n", (int)reply.len, (const char *)reply.data);
        sk_buf_free(&reply);
    }
    TRY(sk_channel_close_write(ch)); /* the server's read_frame sees SK_ERR_EOF */
    sk_buf rest = {0};
    sk_result rc = sk_channel_read_frame(ch, &rest, 5000);
    if (rc != SK_ERR_EOF) fprintf(stderr, "expected EOF, got %d: %s\n", (int)rc, sk_last_error());
    sk_channel_free(ch);

    TRY(sk_peer_shutdown(server)); /* unblocks the server's accept with SK_ERR_CLOSED */
    pthread_join(t, NULL);
    sk_peer_free(client);
    sk_peer_free(server);
    sk_string_free(endpoint);
    return rc == SK_ERR_EOF ? 0 : 1;
}
