package streamkit

// Event reports something that happened to a peer's connections; receive
// them from (*Peer).Events.
//
// Kind is one of the EventConnected ... EventOverflow constants (a kind
// added by a newer library arrives with its name). Peer is the remote
// peer's name, Endpoint the endpoint dialled (connecting side) or the
// remote's address (accepting side: "tcp://IP:PORT", "unix://PATH" or "stream"),
// Fingerprint the remote key's "SHA256:..." fingerprint, Reason human
// text; each is "" when not known. For EventDisconnected on the connecting
// side, Reason quotes the server's SSH disconnect description when it sent
// one.
type Event struct {
	Kind        string
	Peer        string
	Endpoint    string
	Fingerprint string
	Reason      string
}

// Event kinds (Event.Kind).
const (
	// EventConnected: a connection completed the hello exchange.
	EventConnected = "connected"
	// EventDisconnected: a connected connection ended (Reason says why).
	EventDisconnected = "disconnected"
	// EventReconnecting: a connector retries (Reason: attempt, delay, last error).
	EventReconnecting = "reconnecting"
	// EventAuthFailed: either side refused a key (Fingerprint is the remote's).
	EventAuthFailed = "auth_failed"
	// EventRefused: a limit refused a connection or channel (Reason names it).
	EventRefused = "refused"
	// EventHandshakeFailed: a connection ended before the hello exchange.
	EventHandshakeFailed = "handshake_failed"
	// EventOverflow: events were dropped because nobody read them in time
	// (the library keeps 256); Reason gives the number.
	EventOverflow = "overflow"
)
