package streamkit

import (
	"io"
	"time"
)

// Option numbers for Peer.SetOption and Peer.GetOption. The values are the
// C sk_option values (SK_OPT_*).
const (
	OptPrivateKey           = 0  // string: path to an OpenSSH/PEM private key file, or the key text
	OptAuthorizedKeys       = 1  // string: path to an authorized_keys file, or its text
	OptName                 = 2  // string: this peer's name (default: a random UUID)
	OptReconnectInterval    = 3  // int, ms: delay between reconnect attempts (default 100; -1 = never retry)
	OptReconnectIntervalMax = 4  // int, ms: cap of the exponential backoff (0 = constant interval with jitter)
	OptConnectTimeout       = 5  // int, ms: how long Connect keeps trying (default 10000)
	OptMaxFrameSize         = 6  // int, bytes: largest frame a reader accepts (default 16 MiB)
	OptKnownHosts           = 7  // string: path to a known_hosts file, or its text
	OptKeepaliveInterval    = 8  // int, ms: keepalive probe interval (0 = off)
	OptKeepaliveCount       = 9  // int: unanswered keepalives before a connection is declared dead
	OptHandshakeTimeout     = 10 // int, ms: time allowed for the SSH handshake and authentication
	OptMaxChannels          = 11 // int: most channels open at once on one connection
	OptChannelWindow        = 12 // int, bytes: per-channel starting receive window (auto-tuning grows it within OptWindowBudget)
	OptAcceptBacklog        = 13 // int: incoming channels queued for Accept
	OptWindowBudget         = 14 // int, bytes: per connection, how much receive-window auto-tuning may add on top of OptChannelWindow (default 32 MiB; 0 = fixed windows)
	OptMaxConnectionsPerKey = 15 // int: most connections one remote key may hold at once to this peer as a server (default 0 = no limit)
)

type optionInfo struct {
	name     string // as in SK_OPT_<name>
	goName   string
	isString bool
	isMillis bool // integer milliseconds: a time.Duration is accepted too
}

var optionTable = []optionInfo{
	OptPrivateKey:           {"PRIVATE_KEY", "OptPrivateKey", true, false},
	OptAuthorizedKeys:       {"AUTHORIZED_KEYS", "OptAuthorizedKeys", true, false},
	OptName:                 {"NAME", "OptName", true, false},
	OptReconnectInterval:    {"RECONNECT_INTERVAL", "OptReconnectInterval", false, true},
	OptReconnectIntervalMax: {"RECONNECT_INTERVAL_MAX", "OptReconnectIntervalMax", false, true},
	OptConnectTimeout:       {"CONNECT_TIMEOUT", "OptConnectTimeout", false, true},
	OptMaxFrameSize:         {"MAX_FRAME_SIZE", "OptMaxFrameSize", false, false},
	OptKnownHosts:           {"KNOWN_HOSTS", "OptKnownHosts", true, false},
	OptKeepaliveInterval:    {"KEEPALIVE_INTERVAL", "OptKeepaliveInterval", false, true},
	OptKeepaliveCount:       {"KEEPALIVE_COUNT", "OptKeepaliveCount", false, false},
	OptHandshakeTimeout:     {"HANDSHAKE_TIMEOUT", "OptHandshakeTimeout", false, true},
	OptMaxChannels:          {"MAX_CHANNELS", "OptMaxChannels", false, false},
	OptChannelWindow:        {"CHANNEL_WINDOW", "OptChannelWindow", false, false},
	OptAcceptBacklog:        {"ACCEPT_BACKLOG", "OptAcceptBacklog", false, false},
	OptWindowBudget:         {"WINDOW_BUDGET", "OptWindowBudget", false, false},
	OptMaxConnectionsPerKey: {"MAX_CONNECTIONS_PER_KEY", "OptMaxConnectionsPerKey", false, false},
}

func lookupOption(option int) (optionInfo, bool) {
	if option < 0 || option >= len(optionTable) {
		return optionInfo{}, false
	}
	return optionTable[option], true
}

// optionValue checks a SetOption value against the option's type. It
// returns the string or the integer to pass to the library.
func optionValue(option int, value interface{}) (s string, n int64, isString bool, err error) {
	info, ok := lookupOption(option)
	if !ok {
		return "", 0, false, errInvalidf("unknown option %d", option)
	}
	if info.isString {
		v, ok := value.(string)
		if !ok {
			return "", 0, true, errInvalidf("option %s (SK_OPT_%s) expects a string, got %T", info.goName, info.name, value)
		}
		return v, 0, true, nil
	}
	const maxInt64 = 1<<63 - 1
	switch v := value.(type) {
	case int:
		n = int64(v)
	case int8:
		n = int64(v)
	case int16:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case uint:
		if uint64(v) > maxInt64 {
			return "", 0, false, errInvalidf("option %s (SK_OPT_%s): value %d out of range", info.goName, info.name, v)
		}
		n = int64(v)
	case uint8:
		n = int64(v)
	case uint16:
		n = int64(v)
	case uint32:
		n = int64(v)
	case uint64:
		if v > maxInt64 {
			return "", 0, false, errInvalidf("option %s (SK_OPT_%s): value %d out of range", info.goName, info.name, v)
		}
		n = int64(v)
	case time.Duration:
		if !info.isMillis {
			return "", 0, false, errInvalidf("option %s (SK_OPT_%s) expects an int, got time.Duration", info.goName, info.name)
		}
		n = v.Milliseconds()
		if v < 0 {
			n = -1
		}
	default:
		want := "an int"
		if info.isMillis {
			want = "an int (milliseconds) or a time.Duration"
		}
		return "", 0, false, errInvalidf("option %s (SK_OPT_%s) expects %s, got %T", info.goName, info.name, want, value)
	}
	return "", n, false, nil
}

// ChannelMeta describes a channel: the service and headers it was opened
// with, the trailers received from the other side, and both peer names.
type ChannelMeta interface {
	Service() string
	Headers() []string
	Trailers() []string // available once closed
	LocalPeer() string
	RemotePeer() string
}

// Identity is who is on the other end of a channel: the key it
// authenticated with. Every *Chan implements it (beside ChannelMeta, whose
// method set stays that of the original Go Streamkit).
type Identity interface {
	RemoteKey() string
	RemoteFingerprint() string
}

// Channel is a bidirectional stream between two peers, with frames, error
// frames, trailers and child channels. Every channel returned by this
// package is a *Chan, which also implements ChannelMeta.
type Channel interface {
	Write(data []byte) (int, error)
	Read(data []byte) (int, error)
	WriteFrame(frame []byte) error
	ReadFrame() ([]byte, error)
	WriteError(frame []byte) error
	ReadError() ([]byte, error)
	CloseWrite() error
	WriteTrailers(trailers []string) error
	Close() error
	Open(service string, headers []string) (Channel, error)
	Accept() (ChannelMeta, Channel)
	Join(rwc io.ReadWriteCloser)
	Meta() ChannelMeta
}
