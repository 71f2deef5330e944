// Command goapp is the Go side of the cross-language test (tests/interop):
// a streamkit peer that binds or connects, then opens or accepts one
// channel and runs the exchange described in ../README.md against a peer
// written in another language (the Python one, peer.py).
//
//	goapp keygen                      print a new private key
//	goapp pubkey KEYFILE              print the public key of KEYFILE
//	goapp run [flags]                 run one side of the exchange
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"

	streamkit "github.com/streamkit/streamkit/bindings/go"
)

const lang = "go"

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goapp: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	check(err, "read "+path)
	return string(b)
}

// The frames the opener sends; the acceptor answers each with its
// language as a prefix.
func frames() [][]byte {
	return [][]byte{
		[]byte("hello"),
		{},
		bytes.Repeat([]byte{0, 1, 2, 253, 254, 255}, 50000), // 300 000 bytes, binary
		[]byte("last"),
	}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: goapp keygen | pubkey KEYFILE | run [flags]")
	}
	switch os.Args[1] {
	case "keygen":
		k, err := streamkit.GenerateKey()
		check(err, "GenerateKey")
		fmt.Print(k)
		return
	case "pubkey":
		p := streamkit.NewPeer()
		defer p.Shutdown()
		check(p.SetOption(streamkit.OptPrivateKey, readFile(os.Args[2])), "set key")
		pub, err := p.PublicKey()
		check(err, "PublicKey")
		fmt.Println(pub)
		return
	case "run":
	default:
		fail("unknown command %q", os.Args[1])
	}

	fs := flag.NewFlagSet("run", flag.ExitOnError)
	key := fs.String("key", "", "private key file")
	authorized := fs.String("authorized", "", "authorized_keys file (the other side's public key)")
	name := fs.String("name", "go-peer", "this peer's name")
	remote := fs.String("remote", "py-peer", "the other peer's expected name")
	remoteLang := fs.String("remote-lang", "py", "the other side's language tag")
	bindEP := fs.String("bind", "", "endpoint to bind (tcp://127.0.0.1:0)")
	epFile := fs.String("endpoint-file", "", "with -bind: write the bound endpoint here; with -connect: read it from here")
	doConnect := fs.Bool("connect", false, "connect to the endpoint in -endpoint-file")
	role := fs.String("role", "accept", "open or accept the channel")
	fs.Parse(os.Args[2:])

	p := streamkit.NewPeer()
	check(p.SetOption(streamkit.OptName, *name), "set name")
	check(p.SetOption(streamkit.OptPrivateKey, readFile(*key)), "set key")
	check(p.SetOption(streamkit.OptAuthorizedKeys, readFile(*authorized)), "set authorized keys")
	check(p.SetOption(streamkit.OptConnectTimeout, 20*time.Second), "set connect timeout")

	switch {
	case *bindEP != "":
		bound, err := p.BindAddr(*bindEP)
		check(err, "bind")
		tmp := *epFile + ".tmp"
		check(os.WriteFile(tmp, []byte(bound), 0o644), "write endpoint")
		check(os.Rename(tmp, *epFile), "rename endpoint file")
		fmt.Fprintln(os.Stderr, "goapp: bound", bound)
	case *doConnect:
		var ep string
		deadline := time.Now().Add(30 * time.Second)
		for {
			if b, err := os.ReadFile(*epFile); err == nil && len(b) > 0 {
				ep = string(b)
				break
			}
			if time.Now().After(deadline) {
				fail("no endpoint file %s", *epFile)
			}
			time.Sleep(50 * time.Millisecond)
		}
		check(p.Connect(ep), "connect "+ep)
		fmt.Fprintln(os.Stderr, "goapp: connected to", ep)
	default:
		fail("need -bind or -connect")
	}

	// Wait until the other side is known (the binder learns it when the
	// connector arrives).
	deadline := time.Now().Add(30 * time.Second)
	for len(p.Peers()) == 0 {
		if time.Now().After(deadline) {
			fail("no peer connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := p.Peers(); len(got) != 1 || got[0] != *remote {
		fail("peers = %v, want [%s]", got, *remote)
	}

	switch *role {
	case "open":
		opener(p, *remote, *remoteLang)
	case "accept":
		acceptor(p, *remote, *remoteLang)
	default:
		fail("bad -role %q", *role)
	}
	check(p.Shutdown(), "shutdown")
	fmt.Fprintln(os.Stderr, "goapp: OK", *role)
}

func opener(p *streamkit.Peer, remote, remoteLang string) {
	ch, err := p.Open(remote, "interop", []string{"lang=" + lang, "case=frames"})
	check(err, "open")
	meta := ch.Meta()
	if meta.RemotePeer() != remote || meta.Service() != "interop" {
		fail("meta: remote %q service %q", meta.RemotePeer(), meta.Service())
	}
	sent := frames()
	go func() {
		for _, f := range sent {
			check(ch.WriteFrame(f), "write frame")
		}
		check(ch.WriteError([]byte("err-from-"+lang)), "write error frame")
		check(ch.WriteTrailers([]string{"status=ok", "from=" + lang}), "write trailers")
		check(ch.CloseWrite(), "close write")
	}()
	for i, f := range sent {
		got, err := ch.ReadFrame()
		check(err, fmt.Sprintf("read reply %d", i))
		want := append([]byte(remoteLang+":"), f...)
		if !bytes.Equal(got, want) {
			fail("reply %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if _, err := ch.ReadFrame(); err != io.EOF {
		fail("expected io.EOF after the replies, got %v", err)
	}
	e, err := ch.ReadError()
	check(err, "read error frame")
	if string(e) != "err-from-"+remoteLang {
		fail("error frame %q", e)
	}
	if _, err := ch.ReadError(); err != io.EOF {
		fail("expected io.EOF on the error stream, got %v", err)
	}
	want := []string{"status=done", "from=" + remoteLang}
	if got := meta.Trailers(); !reflect.DeepEqual(got, want) {
		fail("trailers %q, want %q", got, want)
	}
	check(ch.Close(), "close")
}

func acceptor(p *streamkit.Peer, remote, remoteLang string) {
	meta, ch, err := p.AcceptTimeout(30 * time.Second)
	check(err, "accept")
	if meta.Service() != "interop" || meta.RemotePeer() != remote {
		fail("meta: service %q remote %q", meta.Service(), meta.RemotePeer())
	}
	if h := meta.Headers(); !reflect.DeepEqual(h, []string{"lang=" + remoteLang, "case=frames"}) {
		fail("headers %q", h)
	}
	n := 0
	for {
		f, err := ch.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		check(err, "read frame")
		check(ch.WriteFrame(append([]byte(lang+":"), f...)), "write reply")
		n++
	}
	if n != len(frames()) {
		fail("got %d frames, want %d", n, len(frames()))
	}
	e, err := ch.ReadError()
	check(err, "read error frame")
	if string(e) != "err-from-"+remoteLang {
		fail("error frame %q", e)
	}
	want := []string{"status=ok", "from=" + remoteLang}
	if got := meta.Trailers(); !reflect.DeepEqual(got, want) {
		fail("trailers %q, want %q", got, want)
	}
	check(ch.WriteError([]byte("err-from-"+lang)), "write error frame")
	check(ch.WriteTrailers([]string{"status=done", "from=" + lang}), "write trailers")
	check(ch.CloseWrite(), "close write")
	// Wait until the opener has read everything and shut down (its
	// connection goes away) before closing, so nothing is cut short.
	deadline := time.Now().Add(30 * time.Second)
	for len(p.Peers()) != 0 {
		if time.Now().After(deadline) {
			fail("the opener did not disconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(ch.Close(), "close")
}
