package main

import "testing"

// The word-at-a-time makeFrame and checkFrame agree with the frame
// definition (bench/src/util.rs: seq little-endian, then byte(seq)*31 + i),
// byte by byte, for every value of byte(seq) and a carry across words.
func TestFrameMatchesDefinition(t *testing.T) {
	for _, seq := range []uint64{0, 1, 7, 255, 256, 999, 1 << 40, ^uint64(0)} {
		for d := uint64(0); d < 300; d++ {
			s := seq + d
			var want, got [frameLen]byte
			for i := 0; i < 8; i++ {
				want[i] = byte(s >> (8 * i))
			}
			for i := 8; i < frameLen; i++ {
				want[i] = byte(s)*31 + byte(i)
			}
			makeFrame(s, got[:])
			if got != want {
				t.Fatalf("frame %d: %x, want %x", s, got, want)
			}
			checkFrame(want[:], s, "test") // exits the process on a mismatch
		}
	}
}

// checkFrame rejects a frame with any one byte changed, or a wrong length.
func TestFrameCheckRejects(t *testing.T) {
	var f [frameLen]byte
	makeFrame(12345, f[:])
	for i := 0; i < frameLen; i++ {
		g := f
		g[i] ^= 0x10
		if frameOK(g[:], 12345) {
			t.Fatalf("byte %d changed, still accepted", i)
		}
	}
	if frameOK(f[:frameLen-1], 12345) || !frameOK(f[:], 12345) {
		t.Fatal("length check")
	}
}
