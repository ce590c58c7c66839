package placement

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func cont(site, host string, cpus int, load float64, free int) Container {
	return Container{Site: site, Host: host, CPUs: cpus, Load: load, FreeMem: free, Reported: true}
}

func hosts(cs []Container, p Plan) []string {
	var out []string
	for _, ch := range p.Choices {
		out = append(out, cs[ch.Index].Site+"/"+cs[ch.Index].Host)
	}
	return out
}

func TestSpreadBalancesSitesThenLoad(t *testing.T) {
	cs := []Container{
		cont("A", "a1", 4, 3.0, 8192),
		cont("A", "a2", 4, 0.1, 8192),
		cont("B", "b1", 4, 0.0, 8192),
		cont("C", "c1", 4, 2.0, 8192),
		cont("C", "c2", 4, 0.5, 8192),
	}
	p, err := Place(cs, Request{N: 6, CPUs: 1, Mem: 1024, Sites: []string{"A", "B", "C"}, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	// Equal site counts: the least loaded wins (b1 0.25 per cpu < a2 0.275).
	want := []string{"B/b1", "A/a2", "C/c2", "B/b1", "A/a2", "C/c2"}
	if got := hosts(cs, p); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if !strings.Contains(p.Choices[1].Reason, "load 0.10 on 4 cpus") {
		t.Fatalf("reason %q", p.Choices[0].Reason)
	}
	if len(p.Warnings) != 0 {
		t.Fatalf("warnings %v", p.Warnings)
	}
	// Deterministic: same input, same plan.
	p2, _ := Place(cs, Request{N: 6, CPUs: 1, Mem: 1024, Sites: []string{"A", "B", "C"}, Explain: true})
	if !reflect.DeepEqual(p, p2) {
		t.Fatal("not deterministic")
	}
}

func TestSitesFilter(t *testing.T) {
	cs := []Container{cont("A", "a1", 4, 0, 8192), cont("B", "b1", 4, 0, 8192)}
	p, err := Place(cs, Request{N: 2, CPUs: 1, Mem: 1024, Sites: []string{"B"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(cs, p); !reflect.DeepEqual(got, []string{"B/b1", "B/b1"}) {
		t.Fatal(got)
	}
}

func TestPackFillsFewest(t *testing.T) {
	cs := []Container{
		cont("A", "a1", 8, 0, 4096),
		cont("A", "a2", 8, 0, 16384),
		cont("B", "b1", 8, 0, 8192),
	}
	p, err := Place(cs, Request{N: 5, CPUs: 1, Mem: 2048, Policy: Pack})
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(cs, p); !reflect.DeepEqual(got, []string{"A/a2", "A/a2", "A/a2", "A/a2", "A/a2"}) {
		t.Fatal(got)
	}
}

func TestNeverOvercommitMemory(t *testing.T) {
	cs := []Container{cont("A", "a1", 64, 0, 3000), cont("A", "a2", 64, 0, 1500)}
	p, err := Place(cs, Request{N: 3, CPUs: 1, Mem: 1000})
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]int{}
	for _, ch := range p.Choices {
		used[ch.Index] += 1000
	}
	for i, u := range used {
		if u > cs[i].FreeMem {
			t.Fatalf("%s over-committed: %d > %d", cs[i].Host, u, cs[i].FreeMem)
		}
	}
	_, err = Place(cs, Request{N: 5, CPUs: 1, Mem: 1000})
	var ce *CapacityError
	if !errors.As(err, &ce) || ce.Room != 4 || !strings.Contains(err.Error(), "missing 1 guests (1000 MiB)") {
		t.Fatalf("got %v", err)
	}
}

func TestUnreportedWarns(t *testing.T) {
	cs := []Container{{Site: "A", Host: "a1", CPUs: 2, FreeMem: 4096}}
	p, err := Place(cs, Request{N: 2, CPUs: 1, Mem: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "never reported") {
		t.Fatalf("warnings %v", p.Warnings)
	}
}

func FuzzPlace(f *testing.F) {
	f.Add(5, 1, 1024, uint8(3), 8192, 1.5, false)
	f.Add(1, 4, 100, uint8(0), 0, 0.0, true)
	f.Fuzz(func(t *testing.T, n, cpus, mem int, k uint8, free int, load float64, pack bool) {
		if n > 500 || n < -1 {
			return
		}
		var cs []Container
		for i := 0; i < int(k%20); i++ {
			cs = append(cs, Container{Site: string(rune('A' + i%3)), Host: string(rune('a' + i)), CPUs: i % 5, Load: load, FreeMem: free * (i + 1) % 100000, Reported: i%2 == 0})
		}
		pol := Spread
		if pack {
			pol = Pack
		}
		p, err := Place(cs, Request{N: n, CPUs: cpus, Mem: mem, Policy: pol})
		if err != nil {
			return
		}
		if len(p.Choices) != n {
			t.Fatalf("%d choices for %d guests", len(p.Choices), n)
		}
		used := map[int]int{}
		for _, ch := range p.Choices {
			used[ch.Index] += mem
			if used[ch.Index] > cs[ch.Index].FreeMem {
				t.Fatal("memory over-committed")
			}
		}
	})
}
