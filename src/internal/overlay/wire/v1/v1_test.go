package v1

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
)

// testdata/twofish-cts.txt holds ciphertexts produced by the twofish.c of
// Debian's n2n 1.3.1 (key "vc-secret-key", plaintext byte i = 7i+3; the
// last line is a 5-byte input 1,2,3,4,5).
func TestTwofishMatchesN2N(t *testing.T) {
	f, err := os.Open("testdata/twofish-cts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := NewCipher([]byte("vc-secret-key"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<16)
	lines := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		n, _ := strconv.Atoi(fields[0])
		want, _ := hex.DecodeString(fields[1])
		in := make([]byte, n)
		for i := range in {
			in[i] = byte(i*7 + 3)
		}
		if lines == 10 {
			in = []byte{1, 2, 3, 4, 5}
		}
		got := make([]byte, SealedLen(n))
		got = got[:c.Encrypt(got, in)]
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: encrypt mismatch\n got %x\nwant %x", n, got, want)
		}
		back := make([]byte, len(got))
		m, err := c.Decrypt(back, got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back[:len(in)], in) || (n > 16 && m != n) {
			t.Fatalf("len %d: decrypt mismatch", n)
		}
		lines++
	}
	if lines != 11 {
		t.Fatalf("read %d vectors, want 11", lines)
	}
}

func TestLZORoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 17, 238, 239, 240, 256, 493, 494, 1414, 9000} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 13)
		}
		enc := AppendLZOLiteral(nil, src)
		if len(enc) > n+LiteralOverhead {
			t.Fatalf("n=%d: overhead %d", n, len(enc)-n)
		}
		out, err := DecompressLZO(make([]byte, 0, 10000), enc)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(out, src) {
			t.Fatalf("n=%d: round trip differs", n)
		}
	}
}

// A stream from minilzo's lzo1x_1_compress over 64 repeated bytes
// ("abcd" * 16): literals, then an M2/M3 back-reference.
func TestLZOMatches(t *testing.T) {
	// literal run "abcd" (17+4), M3 match len 60 dist 4, EOF.
	enc := []byte{21, 'a', 'b', 'c', 'd', 32, 60 - 2 - 31, 3 << 2, 0, 0x11, 0, 0}
	out, err := DecompressLZO(make([]byte, 0, 128), enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != strings.Repeat("abcd", 16) {
		t.Fatalf("got %q", out)
	}
	if _, err := DecompressLZO(make([]byte, 0, 10), enc); err == nil {
		t.Fatal("overflowing output accepted")
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	comm, err := MakeCommunity("vc-demo")
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Version: 1, Type: MsgPacket, TTL: 2, FromSupernode: true, Community: comm,
		SrcMAC: [6]byte{2, 0x5c, 0, 0, 0, 5}, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		Public: netip.MustParseAddrPort("198.18.0.7:7654"), Private: netip.MustParseAddrPort("10.1.2.3:40000"),
		Seq: 7, CRC: 9}
	var b [HeaderLen]byte
	h.Marshal(b[:])
	// family, pad, port (network order), address: as the C struct lays it.
	if b[32] != 2 || b[34] != 0x1d || b[35] != 0xe6 || b[36] != 198 || b[39] != 7 {
		t.Fatalf("public peer_addr layout wrong: % x", b[32:52])
	}
	var g Header
	if err := g.Unmarshal(b[:]); err != nil {
		t.Fatal(err)
	}
	if g != h || g.CommunityName() != "vc-demo" {
		t.Fatalf("round trip: %+v != %+v", g, h)
	}
	if _, err := MakeCommunity("sixteen-bytes-xx"); err == nil {
		t.Fatal("16-byte community accepted")
	}
}

func TestLZOPrefixMatchesAppend(t *testing.T) {
	for _, n := range []int{0, 5, 238, 239, 1414, 5000} {
		src := bytes.Repeat([]byte{9}, n)
		want := AppendLZOLiteral(nil, src)
		b := make([]byte, n+LiteralOverhead)
		p := PutLZOLiteralPrefix(b, n)
		copy(b[p:], src)
		got := append(b[:p+n], LZOTrailer[:]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: prefix stream differs", n)
		}
	}
}
