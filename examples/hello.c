#include <stdio.h>
#include <string.h>
#include "streamkit.h"

#define CHECK(call) do { if ((call) != SK_OK) { \
    fprintf(stderr, "%s failed: %s\n", #call, sk_last_error()); return 1; } } while (0)

int main(void) {
    char *key, *endpoint;
    sk_peer *server, *client;
    sk_channel *out, *in;
    sk_buf frame;

    CHECK(sk_generate_key(&key));            /* or a path such as ~/.ssh/id_ed25519 */
    CHECK(sk_peer_new(&server));
    CHECK(sk_peer_set_option_str(server, SK_OPT_NAME, "server"));
    CHECK(sk_peer_set_option_str(server, SK_OPT_PRIVATE_KEY, key));
    CHECK(sk_peer_bind(server, "tcp://127.0.0.1:0", &endpoint));

    CHECK(sk_peer_new(&client));
    CHECK(sk_peer_set_option_str(client, SK_OPT_PRIVATE_KEY, key)); /* same key: mutual trust */
    CHECK(sk_peer_connect(client, endpoint));

    const char *headers[] = {"user=me"};
    CHECK(sk_peer_open(client, "server", "echo", headers, 1, &out));
    CHECK(sk_channel_write_frame(out, (const uint8_t *)"hello", 5));

    CHECK(sk_peer_accept(server, 5000, &in));
    CHECK(sk_channel_read_frame(in, &frame, 5000));
    printf("server got: %.*s\n", (int)frame.len, (const char *)frame.data);
    CHECK(sk_channel_write_frame(in, frame.data, frame.len));
    sk_buf_free(&frame);

    CHECK(sk_channel_read_frame(out, &frame, 5000));
    printf("client got: %.*s\n", (int)frame.len, (const char *)frame.data);
    sk_buf_free(&frame);

    sk_channel_free(in);
    sk_channel_free(out);
    sk_peer_free(client);                    /* shuts down and releases */
    sk_peer_free(server);
    sk_string_free(endpoint);
    sk_string_free(key);
    return 0;
}
