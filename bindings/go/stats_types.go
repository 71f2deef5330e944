package streamkit

// ChannelStats is what one channel has moved and where it stalled (see
// (*Chan).Stats). Durations are milliseconds.
//
// SendBlockedMs growing here while the other side's RecvUnreadMs grows
// means the remote application does not read fast enough; RecvUnreadMs
// growing here means this side does not.
type ChannelStats struct {
	BytesSent      uint64  // bytes handed to the connection (byte stream, frames with their 4-byte headers, error frames)
	BytesReceived  uint64  // bytes received from the remote, counted as they arrive
	FramesSent     uint64  // frames and error frames handed to the library (write-behind batches included)
	FramesReceived uint64  // frames and error frames read from the library
	RecvBuffered   uint64  // bytes received and not yet read (both streams)
	RecvWindow     uint64  // this side's current receive window on the data stream
	SendCredit     uint64  // credit this side may still send before it waits
	SendBlockedMs  float64 // time during which at least one writer waited for the remote's credit
	RecvUnreadMs   float64 // time during which received data sat here unread
}

// ConnStats is one established connection of a peer (see (*Peer).Stats).
type ConnStats struct {
	Peer          string   // the remote peer's name
	Endpoint      string   // the endpoint dialled, or tcp://ADDR:PORT, unix://PATH, inproc://NAME of an accepted one
	Fingerprint   string   // the remote's key fingerprint ("SHA256:..."), "" if it has none
	BytesSent     uint64   // bytes sent by this side's channels on the connection
	BytesReceived uint64   // bytes received by them
	Channels      int      // channels open on the connection now
	RttMs         *float64 // the last round trip measured (ms), nil before the first
	ConnectedMs   float64  // milliseconds since the connection was established
}
