//go:build cgo

package streamkit

/*
#include "shim.h"
*/
import "C"

import "unsafe"

// Stats returns the channel's statistics. Bytes a write-behind buffer of
// this package still holds are not yet counted as sent. After Close it
// returns the zero value.
func (c *Chan) Stats() ChannelStats {
	h, err := c.acquire()
	if err != nil {
		return ChannelStats{}
	}
	defer c.release()
	var st C.sk_channel_statistics
	var msg *C.char
	if cError(C.skgo_channel_stats(h, &st, &msg), msg) != nil {
		return ChannelStats{}
	}
	c.wb.mu.Lock()
	batched := c.wb.handed
	c.wb.mu.Unlock()
	return ChannelStats{
		BytesSent:      uint64(st.bytes_sent),
		BytesReceived:  uint64(st.bytes_received),
		FramesSent:     uint64(st.frames_sent) + batched,
		FramesReceived: uint64(st.frames_received),
		RecvBuffered:   uint64(st.recv_buffered),
		RecvWindow:     uint64(st.recv_window),
		SendCredit:     uint64(st.send_credit),
		SendBlockedMs:  float64(st.send_blocked_ms),
		RecvUnreadMs:   float64(st.recv_unread_ms),
	}
}

// Stats returns one entry per established connection, in the order they
// were made (empty, not nil, when there are none or after Shutdown).
func (p *Peer) Stats() []ConnStats {
	out := []ConnStats{}
	_ = p.call(func(h C.uintptr_t) error {
		var l C.sk_conn_statistics_list
		var msg *C.char
		if err := cError(C.skgo_peer_stats(h, &l, &msg), msg); err != nil {
			return err
		}
		defer C.skgo_conn_stats_list_free(&l)
		if l.len == 0 || l.items == nil {
			return nil
		}
		for _, e := range unsafe.Slice(l.items, int(l.len)) {
			s := ConnStats{
				Peer:          C.GoString(e.peer),
				Endpoint:      C.GoString(e.endpoint),
				Fingerprint:   C.GoString(e.fingerprint),
				BytesSent:     uint64(e.bytes_sent),
				BytesReceived: uint64(e.bytes_received),
				Channels:      int(e.channels),
				ConnectedMs:   float64(e.connected_ms),
			}
			if e.rtt_ms >= 0 {
				r := float64(e.rtt_ms)
				s.RttMs = &r
			}
			out = append(out, s)
		}
		return nil
	})
	return out
}
