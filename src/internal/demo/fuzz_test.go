package demo

import (
	"strings"
	"testing"
)

// FuzzParseTable: any text gives rows without a panic, and every row has
// only header keys.
func FuzzParseTable(f *testing.F) {
	f.Add("HOST ROLE IP\ndemo: frontend 100.64.0.1\n")
	f.Add("CONTAINER         SITE AGENT\nvm-container-0-0: A    198.18.0.11:8677\n")
	f.Add("")
	f.Add("X\n\n  \nY Z\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range ParseTable(s) {
			for k := range r {
				if k == "" || strings.ContainsAny(k, " \n") {
					t.Fatalf("bad key %q", k)
				}
			}
		}
	})
}

// FuzzParseDelays: accepted input gives delays in range; nothing panics.
func FuzzParseDelays(f *testing.F) {
	for _, s := range []string{"0,10,25,50,100,200", "", "5", "-1", "1,,2", "10001", " 7 , 8 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDelays(s)
		if err != nil {
			return
		}
		for _, d := range ds {
			if d < 0 || d.Milliseconds() > 10000 {
				t.Fatalf("%q gave %v", s, d)
			}
		}
	})
}

// FuzzParseReach: accepted input has a peer name per result and no
// negative time; nothing panics.
func FuzzParseReach(f *testing.F) {
	for _, s := range []string{"vm-demo-1 ok 0.52\ndemo fail\n", "", "a ok -1\n", "a ok x\n", "a maybe\n", "\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := parseReach(s)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Peer == "" || r.Avg < 0 || (!r.OK && r.Avg != 0) {
				t.Fatalf("%q gave %+v", s, r)
			}
		}
	})
}

// FuzzParseConsole: READY always carries a valid overlay address and
// never stands with a FAILED line after it.
func FuzzParseConsole(f *testing.F) {
	f.Add("vcluster-guest: net eth0 198.18.0.160/24 gw 198.18.0.254\nvcluster-guest: READY name=vm-demo-0 overlay=100.64.0.2 uptime=3.2\n")
	f.Add("[ 1.0] vcluster-guest: FAILED name=x step=net no lease\r\n")
	f.Add("vcluster-guest: READY overlay=bad\nvcluster-guest: \n")
	f.Fuzz(func(t *testing.T, s string) {
		st := parseConsole(s)
		if st.Ready && (!st.Overlay.IsValid() || st.Failed != "") {
			t.Fatalf("%q gave %+v", s, st)
		}
	})
}
