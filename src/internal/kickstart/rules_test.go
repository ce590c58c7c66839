package kickstart

import (
	"database/sql"
	"strings"
	"testing"
)

// One test per rendering rule of Rocks 6.2 (see golden_test.go for the
// whole output); each failed on the renderer before it followed gen.py.
// Temporary names are random, as Rocks' are; numberTemps numbers them.

func postBody(t *testing.T, post string, attrs map[string]string) string {
	t.Helper()
	n, err := Parse([]byte("<kickstart><post>"+post+"</post></kickstart>"), Options{Name: "t", Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Post) != 1 {
		t.Fatalf("%d sections", len(n.Post))
	}
	return n.Post[0].Body
}

// util.py:240-246 escapeAttr: ' becomes \' in every attribute value.
func TestRuleQuoteEscaped(t *testing.T) {
	if got := postBody(t, "echo '&v;'", map[string]string{"v": "it's"}); got != `echo 'it\'s'` {
		t.Errorf("got %q, want %q", got, `echo 'it\'s'`)
	}
}

// getHostAttrs gives None for a NULL value; its entity reads "None".
func TestRuleNullIsNone(t *testing.T) {
	if AttrValue(sql.NullString{}) != "None" || AttrValue(sql.NullString{String: "x", Valid: true}) != "x" {
		t.Error("AttrValue")
	}
	if got := postBody(t, "v=&v;", map[string]string{"v": AttrValue(sql.NullString{})}); got != "v=None" {
		t.Errorf("got %q", got)
	}
}

// gen.py:667-668: only rcsBegin chowns, so rcs="false" drops owner=.
func TestRuleNoRCSNoOwner(t *testing.T) {
	got := postBody(t, `<file name="/tmp/k" owner="root:apache" rcs="false">x</file>`, nil)
	if strings.Contains(got, "chown") || strings.Contains(got, "RCS") {
		t.Errorf("got %q", got)
	}
}

// gen.py:510-554: without rcs="false" the file is checked into RCS first,
// and owner= chowns the file and its RCS copy before the text.
func TestRuleRCSBegin(t *testing.T) {
	got := postBody(t, `<file name="/etc/x" owner="root:root">a</file>`, nil)
	want := "\nif [ ! -f /etc/RCS/x,v ]; then\n\tif [ ! -f /etc/x ]; then\n\t\ttouch /etc/x;\n\tfi\n" +
		"\tif [ ! -d /etc/RCS ]; then\n\t\tmkdir -m 700 /etc/RCS\n\t\tchown 0:0 /etc/RCS\n\tfi;\n" +
		"\techo \"original\" | /opt/rocks/bin/ci /etc/x;\n\t/opt/rocks/bin/co -f -l /etc/x;\nfi\n" +
		"chown root:root /etc/x\nchown root:root /etc/RCS/x,v\ncat > /etc/x << 'EOF'\na\nEOF\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, v := range []string{"false", "no", "0", "off", "bogus"} {
		if got := postBody(t, `<file name="/etc/x" rcs="`+v+`">a</file>`, nil); strings.Contains(got, "RCS") {
			t.Errorf("rcs=%q: RCS used", v)
		}
	}
}

// gen.py:703-704: no newline after chmod.
func TestRuleChmodNoNewline(t *testing.T) {
	got := postBody(t, `<file name="/tmp/k" perms="0600" rcs="false">x</file>echo`, nil)
	if !strings.HasSuffix(got, "EOF\nchmod 0600 /tmp/kecho") {
		t.Errorf("got %q", got)
	}
}

// gen.py:679-688: mode="pipe" runs the file (or src=) through the text.
func TestRulePipe(t *testing.T) {
	got := numberTemps(postBody(t, `<file name="/tmp/p" mode="pipe" rcs="false"> sed s/a/b/ </file>`, nil))
	if got != "cat /tmp/p | (sed s/a/b/) > /tmp/TEMP#\nmv /tmp/TEMP# /tmp/p\n" {
		t.Errorf("got %q", got)
	}
	got = postBody(t, `<file name="/tmp/p" src="/tmp/s" mode="pipe" rcs="false">sort</file>`, nil)
	if got != "cat /tmp/s | (sort) > /tmp/p\n" {
		t.Errorf("got %q", got)
	}
}

// gen.py:1144-1156 and profile.py:930-951: each <post> is a %post --log
// section, between a begin and an end section that log to
// /var/log/rocks-install.log; a section whose cond is false leaves its
// two log sections.
func TestRulePostLogSections(t *testing.T) {
	var p Profile
	_, err := p.Parse([]byte(`<kickstart><post arg="--nochroot">echo a</post><post cond="no_such">echo b</post></kickstart>`), Options{Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Post()
	if err != nil {
		t.Fatal(err)
	}
	s = numberTemps(s)
	if c := strings.Count(s, "\n%post --log=/mnt/sysimage/var/log/rocks-install.log"); c != 5 {
		t.Errorf("%d %%post sections, want 5:\n%s", c, s)
	}
	for _, want := range []string{
		"%post --log=/mnt/sysimage/var/log/rocks-install.log --nochroot\ncat > /tmp/TEMP## << 'ROCKS-KS-POST'\n#!/bin/bash\necho a\n\nROCKS-KS-POST\n/bin/chmod +x /tmp/TEMP##\n/tmp/TEMP##\n/bin/rm /tmp/TEMP##\n%end\n",
		"cat >> /var/log/rocks-install.log << 'EOF'\n./nodes/n.xml: begin post section\nEOF\n",
		"cat >> /var/log/rocks-install.log << 'EOF'\n./nodes/n.xml: end post section\nEOF\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Post lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "echo b") || strings.Count(s, "/opt/rocks/bin/ci /var/log/rocks-install.log") != 1 {
		t.Errorf("Post:\n%s", s)
	}
	if again, _ := p.Post(); numberTemps(again) != s {
		t.Error("a second Post differs")
	}
}

// cond.py _CondEnv: on/true/yes/y and off/false/no/n, then numbers, then
// the string itself (so "None" and "none" are true).
func TestRuleCondTruth(t *testing.T) {
	for v, want := range map[string]bool{
		"y": true, "Yes": true, "n": false, "OFF": false, "0": false, " 0 ": false, "0.0": false,
		"2": true, "None": true, "none": true, "": false, "x": true,
	} {
		n, err := Parse([]byte(`<kickstart><post cond="a">x</post></kickstart>`), Options{Attrs: map[string]string{"a": v}})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(n.Post) == 1; got != want {
			t.Errorf("cond a=%q: %v, want %v", v, got, want)
		}
	}
	n, err := Parse([]byte(`<kickstart><post cond="not a">x</post><post cond="">y</post></kickstart>`), Options{})
	if err != nil || len(n.Post) != 2 {
		t.Errorf("unset attribute under not, or empty cond: %v %v", n, err)
	}
}

// gen.py:1158-1189: the runnable script is Rocks' config script (no
// --nochroot sections), after a header and set -e; names are random.
func TestRuleScript(t *testing.T) {
	n, err := Parse([]byte(`<kickstart><post>echo a</post><post arg="--nochroot">echo out</post><post interpreter="/usr/bin/python">print 1</post></kickstart>`), Options{Name: "n"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Script("h", n)
	if err != nil {
		t.Fatal(err)
	}
	want := "#!/bin/bash\n# h\nset -e\n" +
		"cat > /tmp/TEMP# << 'ROCKS-KS-POST'\n#!/bin/bash\necho a\nROCKS-KS-POST\n/bin/chmod +x /tmp/TEMP#\n/tmp/TEMP# \n/bin/rm /tmp/TEMP# \n" +
		"cat > /tmp/TEMP## << 'ROCKS-KS-POST'\n#!/usr/bin/python\nprint 1\nROCKS-KS-POST\n/bin/chmod +x /tmp/TEMP##\n/tmp/TEMP## \n/bin/rm /tmp/TEMP## \n"
	if got := numberTemps(s); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	s2, _ := Script("h", n)
	if s2 == s {
		t.Error("temporary names repeat between renderings")
	}
}
