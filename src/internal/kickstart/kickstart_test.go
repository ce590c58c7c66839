package kickstart

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocksclusters/vcluster/src/internal/testenv/binaries"
)

const sampleKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func sampleAttrs() map[string]string {
	return map[string]string{
		"vcluster_name":      "demo",
		"vcluster_community": "vc-demo",
		"vcluster_key":       sampleKey,
		"vcluster_supernode": "198.18.0.1:7654",
		"vcluster_protocol":  "native",
		"vcluster_ip":        "100.64.0.5/24",
		"vcluster_mac":       "02:5c:00:00:00:05",
		"vcluster_mtu":       "1400",
	}
}

func guestXML(t testing.TB) []byte {
	t.Helper()
	root, err := binaries.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "nodes", GuestNode+".xml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGuestNodeRenders(t *testing.T) {
	attrs := sampleAttrs()
	if err := ValidateGuest(attrs); err != nil {
		t.Fatal(err)
	}
	n, err := Parse(guestXML(t), Options{Name: GuestNode, Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Packages) != 1 || n.Packages[0] != "vcluster-edge" {
		t.Fatalf("packages = %q, want [vcluster-edge]", n.Packages)
	}
	if s, _ := Script("test", n); strings.Contains(s, sampleKey) || strings.Contains(s, "edge.key <<") {
		t.Errorf("the node file writes the key; Rocks renders no secure attribute:\n%s", s)
	}
	k, err := GuestKey(attrs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Script("test", n, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cat > /etc/vcluster/edge.key << 'EOF'\n" + sampleKey + "\nEOF\nchmod 0600 /etc/vcluster/edge.key\n",
		"cat > /etc/vcluster/edge.toml << EOF\n",
		`address    = "100.64.0.5/24"`,
		`community  = "vc-demo"`,
		"mtu        = 1400\n",
		"systemctl enable vcluster-edge.service",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "&vcluster_") || strings.Contains(s, "<file") || strings.Contains(s, "<!--") {
		t.Errorf("rendered script still holds XML:\n%s", s)
	}
}

func TestMissingAttribute(t *testing.T) {
	attrs := sampleAttrs()
	delete(attrs, "vcluster_mtu")
	_, err := Parse(guestXML(t), Options{Name: GuestNode, Attrs: attrs})
	var me *MissingAttrError
	if !errors.As(err, &me) || me.Name != "vcluster_mtu" {
		t.Fatalf("err = %v, want missing vcluster_mtu", err)
	}
	if err := ValidateGuest(attrs); err == nil || !strings.Contains(err.Error(), "vcluster_mtu") {
		t.Fatalf("ValidateGuest: %v", err)
	}
}

func TestValidateGuestRejects(t *testing.T) {
	cases := map[string]string{
		"vcluster_community": `vc"; rm -rf /`,
		"vcluster_key":       "abc",
		"vcluster_supernode": "198.18.0.1",
		"vcluster_protocol":  "v2",
		"vcluster_ip":        "100.64.0.5",
		"vcluster_mac":       "03:00:00:00:00:01",
		"vcluster_mtu":       "70000",
		"vcluster_name":      "a b",
	}
	for k, v := range cases {
		attrs := sampleAttrs()
		attrs[k] = v
		err := ValidateGuest(attrs)
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err = %v", k, v, err)
		}
	}
	attrs := sampleAttrs()
	attrs["vcluster_key"] = strings.Repeat("z", 64)
	if err := ValidateGuest(attrs); err == nil || strings.Contains(err.Error(), "zzzz") {
		t.Errorf("a bad key must be refused without echoing it: %v", err)
	}
	attrs = sampleAttrs()
	attrs["vcluster_supernode"] = "198.18.0.1:7654, sn.example.org:7655"
	if err := ValidateGuest(attrs); err != nil {
		t.Errorf("two supernodes: %v", err)
	}
}

func TestFileElement(t *testing.T) {
	src := `<?xml version="1.0"?>
<kickstart>
<description>x</description>
<package>a</package><package>b</package><package disable="1">a</package>
<post>
<file name="/tmp/x" perms="0640" owner="root:root" rcs="false">
hello &who;
</file>
<file name="/tmp/x" mode="append" rcs="false">world</file>
<file name="/tmp/empty" rcs="false"/>
</post>
<post cond="skipme">echo never</post>
<post interpreter="/usr/bin/python3">print(1)</post>
<post arg="--nochroot">echo outside</post>
</kickstart>`
	n, err := Parse([]byte(src), Options{Name: "t", Attrs: map[string]string{"who": "you & me"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(n.Packages, ",") != "b" {
		t.Errorf("packages = %q", n.Packages)
	}
	if len(n.Post) != 3 {
		t.Fatalf("%d post sections, want 3", len(n.Post))
	}
	want := "\ncat > /tmp/x << 'EOF'\nhello you & me\nEOF\nchmod 0640 /tmp/x\n" +
		"\ncat >> /tmp/x << 'EOF'\nworld\nEOF\n" +
		"\ntouch /tmp/empty\n"
	if got := noBlank(n.Post[0].Body); got != noBlank(want) {
		t.Errorf("body:\n%s\nwant:\n%s", got, want)
	}
	if n.Post[1].Interpreter != "/usr/bin/python3" {
		t.Errorf("interpreter = %q", n.Post[1].Interpreter)
	}
	s, err := Script("", n)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s, "outside") || !strings.Contains(s, "#!/usr/bin/python3\nprint(1)") {
		t.Errorf("script:\n%s", s)
	}
}

func noBlank(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A value that would end a here-document early must never reach the script.
func TestHeredocInjectionRefused(t *testing.T) {
	src := `<kickstart><post><file name="/tmp/x">&v;</file></post></kickstart>`
	for _, v := range []string{"a\nEOF\nrm -rf /\n", "a\nROCKS-KS-POST\nreboot"} {
		if _, err := Parse([]byte(src), Options{Attrs: map[string]string{"v": v}}); err == nil {
			t.Errorf("value %q accepted", v)
		}
	}
	if _, err := Parse([]byte(`<kickstart><post><file name="/tmp/x; rm -rf /">a</file></post></kickstart>`), Options{}); err == nil {
		t.Error("unsafe file name accepted")
	}
}

func TestBadInput(t *testing.T) {
	for _, src := range []string{
		``,
		`<graph/>`,
		`<kickstart><post>`,
		`<kickstart><post><eval>date</eval></post></kickstart>`,
		`<kickstart><post><bogus/></post></kickstart>`,
		`<kickstart><post cond="a or b">x</post></kickstart>`,
		`<kickstart><post><file name="/x" mode="apend">x</file></post></kickstart>`,
		`<kickstart><post><eval mode="xml">echo</eval></post></kickstart>`,
		`<kickstart/><kickstart/>`,
	} {
		if _, err := Parse([]byte(src), Options{}); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

func TestEval(t *testing.T) {
	src := `<kickstart><post><file name="/tmp/k" perms="0600"><eval shell="sh">cat /etc/vcluster/site.key</eval></file></post></kickstart>`
	var gotShell, gotText string
	n, err := Parse([]byte(src), Options{Eval: func(shell, text string) (string, error) {
		gotShell, gotText = shell, text
		return "KEY\n", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if gotShell != "sh" || gotText != "cat /etc/vcluster/site.key" {
		t.Errorf("eval got (%q, %q)", gotShell, gotText)
	}
	if !strings.Contains(n.Post[0].Body, "<< 'EOF'\nKEY\nEOF\nchmod 0600 /tmp/k") {
		t.Errorf("body: %q", n.Post[0].Body)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<kickstart><package>a</package><post>echo &x;<file name="/tmp/a" perms="0600">b</file></post></kickstart>`), "v")
	f.Add(guestXML(f), sampleKey)
	f.Fuzz(func(t *testing.T, src []byte, v string) {
		attrs := sampleAttrs()
		attrs["x"] = v
		n, err := Parse(src, Options{Name: "fuzz", Attrs: attrs})
		if err != nil {
			return
		}
		s, err := Script("fuzz", n)
		if err != nil {
			return
		}
		// Every here-document the script opens is closed by its own line.
		if !strings.HasPrefix(s, "#!/bin/bash\n") {
			t.Fatalf("script without shebang: %q", s)
		}
	})
}
