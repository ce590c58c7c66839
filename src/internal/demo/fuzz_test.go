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
