// C shims between Go and the streamkit C ABI.
//
// Every shim calls one sk_* function and, if it failed, copies the
// thread-local sk_last_error() message into *err (malloc'd, freed by Go)
// inside the same C call. A goroutine can move to another OS thread between
// two cgo calls, so reading sk_last_error() from a second cgo call could
// return another thread's message; doing it here needs no LockOSThread.
//
// Handles cross the boundary as uintptr_t so that Go never holds a C
// handle in a pointer-typed variable (the library may hand out
// generation-checked ids rather than real addresses).
#ifndef STREAMKIT_GO_SHIM_H
#define STREAMKIT_GO_SHIM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "streamkit.h"

static inline char *skgo_errdup(int r) {
	if (r == SK_OK || r == SK_ERR_EOF) return NULL;
	const char *m = sk_last_error();
	if (m == NULL) return NULL;
	size_t n = strlen(m);
	char *c = (char *)malloc(n + 1);
	if (c != NULL) memcpy(c, m, n + 1);
	return c;
}

#define SKGO_RET(expr) do { int r_ = (int)(expr); *err = skgo_errdup(r_); return r_; } while (0)

// ---- library ----

static inline int skgo_generate_key(char **out, char **err) { SKGO_RET(sk_generate_key(out)); }
static inline const char *skgo_version(void) { return sk_version(); }
static inline size_t skgo_live_handles(void) { return sk_live_handles(); }

// ---- peer ----

static inline int skgo_peer_new(uintptr_t *out, char **err) {
	sk_peer *p = NULL;
	int r = (int)sk_peer_new(&p);
	if (r == SK_OK) *out = (uintptr_t)p;
	*err = skgo_errdup(r);
	return r;
}
static inline void skgo_peer_free(uintptr_t p) { sk_peer_free((sk_peer *)p); }
static inline int skgo_peer_set_option_str(uintptr_t p, int o, const char *v, char **err) {
	SKGO_RET(sk_peer_set_option_str((sk_peer *)p, (sk_option)o, v));
}
static inline int skgo_peer_set_option_int(uintptr_t p, int o, int64_t v, char **err) {
	SKGO_RET(sk_peer_set_option_int((sk_peer *)p, (sk_option)o, v));
}
static inline int skgo_peer_get_option_str(uintptr_t p, int o, char **out, char **err) {
	SKGO_RET(sk_peer_get_option_str((sk_peer *)p, (sk_option)o, out));
}
static inline int skgo_peer_get_option_int(uintptr_t p, int o, int64_t *out, char **err) {
	SKGO_RET(sk_peer_get_option_int((sk_peer *)p, (sk_option)o, out));
}
static inline int skgo_peer_public_key(uintptr_t p, char **out, char **err) {
	SKGO_RET(sk_peer_public_key((sk_peer *)p, out));
}
static inline int skgo_peer_bind(uintptr_t p, const char *ep, char **bound, char **err) {
	SKGO_RET(sk_peer_bind((sk_peer *)p, ep, bound));
}
static inline int skgo_peer_unbind(uintptr_t p, const char *ep, char **err) {
	SKGO_RET(sk_peer_unbind((sk_peer *)p, ep));
}
static inline int skgo_peer_connect(uintptr_t p, const char *ep, char **err) {
	SKGO_RET(sk_peer_connect((sk_peer *)p, ep));
}
static inline int skgo_peer_connect_fd(uintptr_t p, int fd, char **err) {
	SKGO_RET(sk_peer_connect_fd((sk_peer *)p, fd));
}
static inline int skgo_peer_serve_fd(uintptr_t p, int fd, char **err) {
	SKGO_RET(sk_peer_serve_fd((sk_peer *)p, fd));
}
static inline int skgo_peer_disconnect(uintptr_t p, const char *ep, char **err) {
	SKGO_RET(sk_peer_disconnect((sk_peer *)p, ep));
}
static inline int skgo_peer_peers(uintptr_t p, sk_strlist *out, char **err) {
	SKGO_RET(sk_peer_peers((sk_peer *)p, out));
}
static inline int skgo_peer_drop(uintptr_t p, const char *name, char **err) {
	SKGO_RET(sk_peer_drop((sk_peer *)p, name));
}
static inline int skgo_peer_next_peer(uintptr_t p, char **out, char **err) {
	SKGO_RET(sk_peer_next_peer((sk_peer *)p, out));
}
static inline int skgo_peer_accept(uintptr_t p, int64_t timeout_ms, uintptr_t *out, char **err) {
	sk_channel *c = NULL;
	int r = (int)sk_peer_accept((sk_peer *)p, timeout_ms, &c);
	if (r == SK_OK) *out = (uintptr_t)c;
	*err = skgo_errdup(r);
	return r;
}
static inline int skgo_peer_open(uintptr_t p, const char *peer, const char *service,
                                 char **headers, size_t n, uintptr_t *out, char **err) {
	sk_channel *c = NULL;
	int r = (int)sk_peer_open((sk_peer *)p, peer, service, (const char *const *)headers, n, &c);
	if (r == SK_OK) *out = (uintptr_t)c;
	*err = skgo_errdup(r);
	return r;
}
static inline int skgo_peer_next_event(uintptr_t p, int64_t timeout_ms, uintptr_t *out, char **err) {
	sk_event *e = NULL;
	int r = (int)sk_peer_next_event((sk_peer *)p, timeout_ms, &e);
	if (r == SK_OK) *out = (uintptr_t)e;
	*err = skgo_errdup(r);
	return r;
}
static inline int skgo_event_kind(uintptr_t e) { return (int)sk_event_kind((const sk_event *)e); }
// which: 0 peer, 1 endpoint, 2 fingerprint, 3 reason.
static inline const char *skgo_event_str(uintptr_t e, int which) {
	const sk_event *ev = (const sk_event *)e;
	switch (which) {
	case 0: return sk_event_peer(ev);
	case 1: return sk_event_endpoint(ev);
	case 2: return sk_event_fingerprint(ev);
	default: return sk_event_reason(ev);
	}
}
static inline void skgo_event_free(uintptr_t e) { sk_event_free((sk_event *)e); }
static inline int skgo_peer_shutdown(uintptr_t p, char **err) {
	SKGO_RET(sk_peer_shutdown((sk_peer *)p));
}

// ---- channel ----

static inline int skgo_channel_write(uintptr_t c, const uint8_t *data, size_t len, size_t *written, char **err) {
	SKGO_RET(sk_channel_write((sk_channel *)c, data, len, written));
}
static inline int skgo_channel_read(uintptr_t c, uint8_t *buf, size_t cap, size_t *n, int64_t timeout_ms, char **err) {
	SKGO_RET(sk_channel_read((sk_channel *)c, buf, cap, n, timeout_ms));
}
static inline int skgo_channel_write_frame(uintptr_t c, const void *data, size_t len, char **err) {
	SKGO_RET(sk_channel_write_frame((sk_channel *)c, (const uint8_t *)data, len));
}
static inline int skgo_channel_read_frame(uintptr_t c, sk_buf *out, int64_t timeout_ms, char **err) {
	SKGO_RET(sk_channel_read_frame((sk_channel *)c, out, timeout_ms));
}
// ---- hot path (WriteFrame, ReadFrame, ReadError) ----
//
// These return their results in a struct, by value, and take no pointer to
// Go memory except the data buffer: a result pointer argument would make
// Go allocate the result on the heap on every call, and a pointer to a
// pointer (such as char **err) is checked by cgo on every call. Data
// buffers are uint8_t pointers, not void pointers: cgo checks every
// unsafe.Pointer argument for Go pointers inside the memory it points to
// (runtime.cgoCheckPointer, about 10 ns a call), but not a pointer to
// memory that cannot hold pointers.

typedef struct {
	int rc;    // sk_result
	int big;   // reads: 1 if the frame did not fit in buf and p is the frame
	size_t n;  // reads: the frame's length
	void *p;   // on failure: the error message (malloc'd, freed by Go), else NULL or the big frame
} skgo_res;

// One frame write (is_error: one error frame).
static inline skgo_res skgo_channel_write_frame_fast(uintptr_t c, int is_error, const uint8_t *data, size_t len) {
	skgo_res res = {0, 0, 0, NULL};
	res.rc = is_error ? (int)sk_channel_write_error((sk_channel *)c, data, len)
	                  : (int)sk_channel_write_frame((sk_channel *)c, data, len);
	res.p = skgo_errdup(res.rc);
	return res;
}

// One frame read (is_error: one error frame) into a Go buffer. If it fits in
// buf, it is copied there (res.n = its length). If it does not, res.big = 1
// and res.p is the frame's own memory (res.n bytes; Go copies it and frees
// it with skgo_free_data).
static inline skgo_res skgo_channel_read_frame_fast(uintptr_t c, int is_error, uint8_t *buf, size_t cap,
                                                    int64_t timeout_ms) {
	skgo_res res = {0, 0, 0, NULL};
	sk_buf b = {NULL, 0};
	res.rc = is_error ? (int)sk_channel_read_error((sk_channel *)c, &b, timeout_ms)
	                  : (int)sk_channel_read_frame((sk_channel *)c, &b, timeout_ms);
	if (res.rc != SK_OK) {
		res.p = skgo_errdup(res.rc);
		return res;
	}
	res.n = b.len;
	if (b.len <= cap) {
		if (b.len > 0) memcpy(buf, b.data, b.len);
		sk_buf_free(&b);
		return res;
	}
	res.big = 1;
	res.p = b.data;
	return res;
}

// Several frames (stream 0) into a Go buffer: res.n bytes of records (a
// 4-byte big-endian length, then the payload, each); res.n == 0 means the
// next frame must be read with skgo_channel_read_frame_fast.
static inline skgo_res skgo_channel_read_frames(uintptr_t c, uint8_t *buf, size_t cap, int64_t timeout_ms) {
	skgo_res res = {0, 0, 0, NULL};
	size_t n = 0;
	res.rc = (int)sk_channel_read_frames((sk_channel *)c, buf, cap, &n, timeout_ms);
	if (res.rc != SK_OK) {
		res.p = skgo_errdup(res.rc);
		return res;
	}
	res.n = n;
	return res;
}

// Gives bytes read ahead back to the channel's byte stream.
static inline skgo_res skgo_channel_unread(uintptr_t c, const uint8_t *data, size_t len) {
	skgo_res res = {0, 0, 0, NULL};
	res.rc = (int)sk_channel_unread((sk_channel *)c, data, len);
	res.p = skgo_errdup(res.rc);
	return res;
}

// Frees frame memory returned by skgo_channel_read_frame_fast.
static inline void skgo_free_data(void *data, size_t len) {
	sk_buf b = {(uint8_t *)data, len};
	sk_buf_free(&b);
}

static inline int skgo_channel_write_error(uintptr_t c, const void *data, size_t len, char **err) {
	SKGO_RET(sk_channel_write_error((sk_channel *)c, (const uint8_t *)data, len));
}
static inline int skgo_channel_read_error(uintptr_t c, sk_buf *out, int64_t timeout_ms, char **err) {
	SKGO_RET(sk_channel_read_error((sk_channel *)c, out, timeout_ms));
}
static inline int skgo_channel_close_write(uintptr_t c, char **err) {
	SKGO_RET(sk_channel_close_write((sk_channel *)c));
}
static inline int skgo_channel_write_trailers(uintptr_t c, char **trailers, size_t n, char **err) {
	SKGO_RET(sk_channel_write_trailers((sk_channel *)c, (const char *const *)trailers, n));
}
static inline int skgo_channel_close(uintptr_t c, char **err) {
	SKGO_RET(sk_channel_close((sk_channel *)c));
}
static inline void skgo_channel_free(uintptr_t c) { sk_channel_free((sk_channel *)c); }
static inline int skgo_channel_open(uintptr_t parent, const char *service, char **headers, size_t n,
                                    uintptr_t *out, char **err) {
	sk_channel *c = NULL;
	int r = (int)sk_channel_open((sk_channel *)parent, service, (const char *const *)headers, n, &c);
	if (r == SK_OK) *out = (uintptr_t)c;
	*err = skgo_errdup(r);
	return r;
}
static inline int skgo_channel_accept(uintptr_t parent, int64_t timeout_ms, uintptr_t *out, char **err) {
	sk_channel *c = NULL;
	int r = (int)sk_channel_accept((sk_channel *)parent, timeout_ms, &c);
	if (r == SK_OK) *out = (uintptr_t)c;
	*err = skgo_errdup(r);
	return r;
}
static inline int skgo_channel_service(uintptr_t c, char **out, char **err) {
	SKGO_RET(sk_channel_service((sk_channel *)c, out));
}
static inline int skgo_channel_headers(uintptr_t c, sk_strlist *out, char **err) {
	SKGO_RET(sk_channel_headers((sk_channel *)c, out));
}
static inline int skgo_channel_trailers(uintptr_t c, sk_strlist *out, char **err) {
	SKGO_RET(sk_channel_trailers((sk_channel *)c, out));
}
static inline int skgo_channel_local_peer(uintptr_t c, char **out, char **err) {
	SKGO_RET(sk_channel_local_peer((sk_channel *)c, out));
}
static inline int skgo_channel_remote_peer(uintptr_t c, char **out, char **err) {
	SKGO_RET(sk_channel_remote_peer((sk_channel *)c, out));
}
static inline int skgo_channel_remote_key(uintptr_t c, char **out, char **err) {
	SKGO_RET(sk_channel_remote_key((sk_channel *)c, out));
}
static inline int skgo_channel_remote_fingerprint(uintptr_t c, char **out, char **err) {
	SKGO_RET(sk_channel_remote_fingerprint((sk_channel *)c, out));
}

// ---- statistics ----

static inline int skgo_channel_stats(uintptr_t c, sk_channel_statistics *out, char **err) {
	SKGO_RET(sk_channel_stats((sk_channel *)c, out));
}
static inline int skgo_peer_stats(uintptr_t p, sk_conn_statistics_list *out, char **err) {
	SKGO_RET(sk_peer_stats((sk_peer *)p, out));
}
static inline void skgo_conn_stats_list_free(sk_conn_statistics_list *l) { sk_conn_stats_list_free(l); }

// ---- owned results ----

static inline void skgo_string_free(char *s) { sk_string_free(s); }
static inline void skgo_buf_free(sk_buf *b) { sk_buf_free(b); }
static inline void skgo_strlist_free(sk_strlist *l) { sk_strlist_free(l); }

#endif
