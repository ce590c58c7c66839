package native

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestSealOpen(t *testing.T) {
	mac := [6]byte{2, 0x5c, 0, 0, 0, 1}
	a, err := SessionKey([]byte("k"), "vc-demo", mac, 42)
	if err != nil {
		t.Fatal(err)
	}
	h := Sealed{Type: TypeData, Community: MakeCommunityID("vc-demo"), Src: mac, Dst: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		Epoch: 42, Counter: 7, FrameID: 1, Offset: 0, Total: 5}
	b := make([]byte, 200)
	h.Put(b)
	dg := Seal(a, b, h.Counter, []byte("hello"))
	var g Sealed
	if err := g.Parse(dg); err != nil {
		t.Fatal(err)
	}
	if g != h {
		t.Fatalf("%+v != %+v", g, h)
	}
	out, err := Open(a, make([]byte, 64), dg, &g)
	if err != nil || string(out) != "hello" {
		t.Fatalf("open: %q %v", out, err)
	}
	// A flipped header byte, another key, another session: refused.
	dg[20] ^= 1
	if _, err := Open(a, make([]byte, 64), dg, &g); err == nil {
		t.Fatal("tampered header accepted")
	}
	dg[20] ^= 1
	other, _ := SessionKey([]byte("other"), "vc-demo", mac, 42)
	if _, err := Open(other, make([]byte, 64), dg, &g); err == nil {
		t.Fatal("wrong key accepted")
	}
	// The relay trailer is outside the authenticated data.
	rel := append(append([]byte{}, dg...), make([]byte, TrailerLen)...)
	rel[0] = MarkerRelayed
	PutAddrPort(rel[len(dg):], netip.MustParseAddrPort("198.18.0.9:4000"))
	inner, from, err := SplitRelayed(rel)
	if err != nil || from.String() != "198.18.0.9:4000" {
		t.Fatalf("split: %v %v", from, err)
	}
	if err := g.Parse(inner); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(a, make([]byte, 64), inner, &g); err != nil {
		t.Fatalf("relayed datagram refused: %v", err)
	}
}

func TestRegister(t *testing.T) {
	r := Register{Type: TypeRegister, Community: MakeCommunityID("c1"), MAC: [6]byte{1, 2, 3, 4, 5, 6}, Epoch: 9, Name: "c1"}
	b := r.Append(nil)
	var g Register
	if err := g.Parse(b); err != nil || g != r {
		t.Fatalf("%+v %v", g, err)
	}
	b[29] = 'x' // name no longer matches the id
	if err := g.Parse(b); err == nil {
		t.Fatal("mismatched community accepted")
	}
	a := RegisterAck{Community: r.Community, MAC: r.MAC, Observed: netip.MustParseAddrPort("198.18.1.2:7654")}
	var ga RegisterAck
	if err := ga.Parse(a.Append(nil)); err != nil || ga != a {
		t.Fatalf("%+v %v", ga, err)
	}
}

func TestWindow(t *testing.T) {
	var w Window
	for _, c := range []uint64{5, 6, 4, 100, 99, 3} {
		if !w.Check(c) {
			t.Fatalf("fresh counter %d refused", c)
		}
	}
	for _, c := range []uint64{5, 6, 4, 100} {
		if w.Check(c) {
			t.Fatalf("replayed counter %d accepted", c)
		}
	}
	if !w.Check(100 + WindowSize*3) {
		t.Fatal("jump refused")
	}
	if w.Check(100) {
		t.Fatal("counter behind the window accepted")
	}
	if !w.Check(100 + WindowSize*3 - 10) {
		t.Fatal("in-window counter refused after jump")
	}
	// The ring is reused after a full window: old counters are outside it,
	// the slots of newer ones were cleared.
	var x Window
	x.Check(1)
	x.Check(1 + WindowSize)
	if x.Check(1) {
		t.Fatal("counter a full window behind accepted")
	}
	if !x.Check(2) {
		t.Fatal("counter 2 is inside the window and new")
	}
}

func FuzzSealed(f *testing.F) {
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	a, _ := SessionKey([]byte("k"), "c", mac, 1)
	h := Sealed{Type: TypeData, Src: mac, Epoch: 1, Total: 3}
	b := make([]byte, 128)
	h.Put(b)
	f.Add(Seal(a, b, 0, []byte("abc")))
	f.Add([]byte("W"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if inner, _, err := SplitRelayed(in); err == nil {
			in = inner
		}
		var h Sealed
		if h.Parse(in) != nil {
			return
		}
		if int(h.Offset)+len(in)-Overhead > int(h.Total) {
			t.Fatal("fragment outside frame passed Parse")
		}
		_, _ = Open(a, make([]byte, 0, len(in)), in, &h)
	})
}

func FuzzRegister(f *testing.F) {
	r := Register{Type: TypeRegister, Community: MakeCommunityID("c1"), Name: "c1"}
	f.Add(r.Append(nil))
	a := RegisterAck{Observed: netip.MustParseAddrPort("[::1]:1")}
	f.Add(a.Append(nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Register
		if r.Parse(in) == nil && !bytes.Equal(r.Append(nil), in[:RegisterLen+1+len(r.Name)]) && in[2] == 0 && in[3] == 0 && in[18] == 0 && in[19] == 0 {
			t.Fatal("register re-encode differs")
		}
		var a RegisterAck
		_ = a.Parse(in)
	})
}
