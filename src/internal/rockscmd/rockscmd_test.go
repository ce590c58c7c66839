package rockscmd

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
)

var got *Context

func init() {
	Register(&Command{
		Verb: "list", Noun: []string{"thing"},
		Description: "List things.\nSecond line.",
		Args:        []Arg{{Name: "NAME", Optional: true, Doc: "a thing"}},
		Params:      []Param{{Name: "size", Default: "3", Doc: "how big"}, {Name: "dryrun", Default: "no"}},
		Examples:    []Example{{Cmd: "list thing a size=4", Doc: "lists a"}},
		Run: func(c *Context) error {
			got = c
			if len(c.Args) == 1 && c.Args[0] == "boom" {
				return errors.New("it went\nboom")
			}
			if len(c.Args) == 1 && c.Args[0] == "db" {
				_, err := c.DB()
				return err
			}
			t := NewTable(c.Out, "name", "size")
			t.Row("a", c.Param("size"))
			t.Row("longer-name", nil)
			t.Flush()
			return nil
		},
	})
	Register(&Command{Verb: "list", Noun: []string{"thing", "part"}, Args: []Arg{{Name: "THING"}},
		Run: func(c *Context) error { got = c; return nil }})
}

func run(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	open := func(ctx context.Context, dsn string, check bool) (*sql.DB, error) {
		return nil, errors.New("cannot reach database " + dsn)
	}
	rc := Main(context.Background(), args, &o, &e, open)
	return rc, o.String(), e.String()
}

func TestTableAndParams(t *testing.T) {
	rc, out, errs := run("list", "thing", "size=7")
	if rc != 0 || errs != "" {
		t.Fatalf("rc=%d err=%q", rc, errs)
	}
	want := "NAME         SIZE\na:           7\nlonger-name: -\n"
	if out != want {
		t.Fatalf("table:\n%q\nwant\n%q", out, want)
	}
	if got.Param("dryrun") != "no" {
		t.Fatal("default not applied")
	}
}

func TestLongestMatch(t *testing.T) {
	if rc, _, _ := run("list", "thing", "part", "x"); rc != 0 || got.Cmd.Noun[1] != "part" || got.Args[0] != "x" {
		t.Fatalf("rc=%d cmd=%s", rc, got.Cmd.Name())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "thing", "color=red"}, `error - unknown parameter "color" for "list thing"`},
		{[]string{"list", "thing", "a", "b"}, `error - too many arguments`},
		{[]string{"list", "thing", "part"}, `error - "list thing part" needs THING`},
		{[]string{"list", "thing", "size=1", "size=2"}, `error - parameter "size" given twice`},
		{[]string{"list", "thing", "boom"}, "error - it went boom\n"},
		{[]string{"remove", "thing"}, `error - unknown command "remove thing"`},
		{[]string{"-dsn", "x@tcp(h)/d", "list", "thing", "db"}, `error - cannot reach database x@tcp(h)/d`},
		{[]string{"-verbose", "list"}, `error - unknown flag`},
	} {
		rc, _, e := run(tc.args...)
		if rc != 1 || !strings.Contains(e, tc.want) || strings.Count(e, "\n") != 1 {
			t.Errorf("%v: rc=%d stderr=%q, want one line with %q", tc.args, rc, e, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help", "list", "thing"}, {"list", "thing", "help"}, {"-h", "list", "thing"}, {"list", "thing", "size=1", "help"}} {
		rc, out, _ := run(args...)
		if rc != 0 || !strings.HasPrefix(out, "rocks list thing [NAME] [dryrun=DRYRUN] [size=SIZE]\n") ||
			!strings.Contains(out, "Default: 3.") || !strings.Contains(out, "\t$ rocks list thing a size=4\n") {
			t.Fatalf("%v: rc=%d\n%s", args, rc, out)
		}
	}
	// Rocks' runWrapper: help only when the first argument is help.
	if rc, _, e := run("list", "thing", "a", "help"); rc != 1 || !strings.Contains(e, "too many arguments") {
		t.Fatalf("help after an argument: rc=%d %q", rc, e)
	}
	rc, out, _ := run("help")
	if rc != 0 || !strings.Contains(out, "list thing part") || !strings.Contains(out, "List things.") {
		t.Fatalf("usage:\n%s", out)
	}
}

func TestHelpFormats(t *testing.T) {
	for format, want := range map[string]string{
		"":        "rocks list thing [NAME] [dryrun=DRYRUN] [size=SIZE]\n\nDescription:\n\n\tList things. Second line.\n\n\t\nArguments:\n\n\t[NAME]\n\n\ta thing\n\t\n",
		"Plain":   "\nParameters:\n\n\t[dryrun=DRYRUN]\n\n\tDefault: no.\n\t\n\t[size=SIZE]\n\n\thow big Default: 3.\n\t\n\nExamples:\n\n\t$ rocks list thing a size=4\n\n\tlists a\n\t\n",
		"raw":     "1:\n2:\tList things. Second line.\n3:\n4:\t<arg type='string' name='NAME' optional='1'>\n5:\ta thing\n6:\t</arg>\n",
		"sphinx":  ":orphan:\n\nlist thing\n----------\n\n.. role:: defn\n\n:defn:`rocks list thing` *[NAME] [dryrun=DRYRUN] [size=SIZE]*\n",
		"docbook": "<section id=\"rocks-list-thing\" xreflabel=\"list thing\">\n<title>list thing</title>\n<cmdsynopsis>\n\t<command>rocks list thing</command>\n\t<arg rep=\"norepeat\" choice=\"opt\">NAME</arg>\n",
		"parsed":  "{'related': [], 'example': [(u'list thing a size=4', u'\\n\\tlists a\\n\\t')], 'description': u'\\n\\tList things. Second line.\\n\\n\\t', 'param': [((u'dryrun', u'DRYRUN', 1, 0), u'\\n\\tDefault: no.\\n\\t'), ",
	} {
		args := []string{"list", "thing", "help"}
		if format != "" {
			args = append(args, "format="+format)
		}
		rc, out, e := run(args...)
		if rc != 0 || !strings.Contains(out, want) || !strings.HasSuffix(out, "\n") {
			t.Errorf("format=%s: rc=%d %s\n%s\nwant within it\n%s", format, rc, e, out, want)
		}
	}
	if rc, _, e := run("help", "list", "thing", "format=html"); rc != 1 || !strings.Contains(e, `error - unknown help format "html"`) {
		t.Errorf("format=html: rc=%d %q", rc, e)
	}
}

func TestSynopsisAndRoot(t *testing.T) {
	c, _ := match([]string{"list", "thing", "part"})
	if s := Synopsis(c); s != "{THING}" || c.MustBeRoot() {
		t.Fatalf("synopsis %q, MustBeRoot %v", s, c.MustBeRoot())
	}
	if (&Command{Verb: "add"}).MustBeRoot() != true {
		t.Fatal("add is not root-only")
	}
	// Text that XML and Python would misread is escaped in the docstring.
	c = &Command{Verb: "add", Noun: []string{"vcluster", "x"}, Description: `a <b> & 'c' """ \ d`,
		Examples: []Example{{Cmd: "add vcluster x a='1'"}}}
	s, err := parseDoc(Docstring(c))
	if err != nil || !strings.Contains(s.Description, `a <b> & 'c' """ \ d`) || s.Examples[0].Cmd != "add vcluster x a='1'" {
		t.Fatalf("%v %+v", err, s)
	}
	py, err := Shim(c)
	if err != nil || !strings.Contains(string(py), `a &lt;b&gt; &amp; 'c' \"\"\" \\ d`) || !strings.Contains(string(py), "class Command(vcluster_exec.Command):") {
		t.Fatalf("%v\n%s", err, py)
	}
	if _, err := Shim(&Command{Verb: "migrate"}); !errors.Is(err, ErrNoShim) {
		t.Fatalf("bare verb: %v", err)
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 2)
	p.Step("one %d", 1)
	p.Step("two")
	p.Done()
	if b.String() != "[1/2] one 1\n[2/2] two\n" {
		t.Fatalf("%q", b.String())
	}
}

func TestAliasShim(t *testing.T) {
	of := &Command{Verb: "move", Noun: []string{"vcluster", "host"}, Description: "Move it.",
		Args: []Arg{{Name: "GUEST"}}, Examples: []Example{{Cmd: "move vcluster host g"}}}
	a := Alias(of, "vcluster")
	doc := Docstring(a)
	if a.Name() != "move vcluster" || Synopsis(a) != Synopsis(of) || !strings.HasSuffix(doc, Docstring(of)) ||
		!strings.HasPrefix(doc, "\n\tThe same as 'rocks move vcluster host'.\n") {
		t.Fatalf("%q: %q", a.Name(), doc)
	}
	if _, err := parseDoc(doc); err != nil {
		t.Fatal(err)
	}
	py, err := Shim(a)
	want := "from rocks.commands.move.vcluster.host import Command as Of\n"
	if err != nil || !strings.Contains(string(py), want) || !strings.Contains(string(py), `__doc__ = "\n\tThe same as 'rocks move vcluster host'.\n" + Of.__doc__`) {
		t.Fatalf("%v\n%s", err, py)
	}
}
