// Package rockscmd is a small Rocks-style command framework: commands are
// `<verb> <noun...> [args] [key=value params]`, registered from init() with
// their own help (<arg>, <param>, <example> as Rocks writes it), listed in
// aligned columns with an upper-case header, and aborted with one line
// `error - ...` and exit status 1, as Rocks' Abort does.
package rockscmd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Arg documents a positional argument.
type Arg struct {
	Name     string
	Optional bool
	Doc      string
}

// Param documents a key=value parameter; Default is shown in help.
type Param struct {
	Name    string
	Default string
	Doc     string
}

// Example is one example invocation (without the leading "rocks").
type Example struct {
	Cmd string
	Doc string
}

// Command is one `rocks <verb> <noun...>` command.
type Command struct {
	Verb        string
	Noun        []string
	Description string
	Args        []Arg
	Params      []Param
	Examples    []Example
	// NoSchemaCheck lets the command open a database that is not at the
	// binary's schema version (migrate).
	NoSchemaCheck bool
	// AliasOf is the command this one is another name for (see Alias).
	AliasOf *Command
	Run     func(c *Context) error
}

// Alias returns another name, verb noun..., for the command of: the same
// args, params and Run, and of's help after a line that names of.
func Alias(of *Command, noun ...string) *Command {
	a := *of
	a.Noun = noun
	a.AliasOf = of
	a.Description = "The same as 'rocks " + of.Name() + "'."
	a.Examples = nil
	return &a
}

// Name is "verb noun ...".
func (c *Command) Name() string {
	return strings.TrimSpace(c.Verb + " " + strings.Join(c.Noun, " "))
}

var registry []*Command

// Register adds a command; call it from init().
func Register(c *Command) {
	for _, o := range registry {
		if o.Name() == c.Name() {
			panic("rockscmd: " + c.Name() + " registered twice")
		}
	}
	registry = append(registry, c)
}

// Commands returns the registered commands sorted by name.
func Commands() []*Command {
	out := append([]*Command(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Context is what a command's Run gets.
type Context struct {
	Ctx    context.Context
	Cmd    *Command
	Args   []string
	Params map[string]string
	Out    io.Writer
	Err    io.Writer

	dsnFlag string
	opener  Opener
	db      *sql.DB
}

// Opener opens the database for a command: dsnFlag is the -dsn flag (may be
// empty), check tells whether to verify the schema version.
type Opener func(ctx context.Context, dsnFlag string, check bool) (*sql.DB, error)

// DB opens the database on first use, so that help needs none.
func (c *Context) DB() (*sql.DB, error) {
	if c.db != nil {
		return c.db, nil
	}
	if c.opener == nil {
		return nil, errors.New("no database configured")
	}
	db, err := c.opener(c.Ctx, c.dsnFlag, !c.Cmd.NoSchemaCheck)
	if err != nil {
		return nil, err
	}
	c.db = db
	return db, nil
}

// Param returns the parameter's value or its declared default.
func (c *Context) Param(name string) string {
	if v, ok := c.Params[name]; ok {
		return v
	}
	for _, p := range c.Cmd.Params {
		if p.Name == name {
			return p.Default
		}
	}
	return ""
}

// IntParam parses an integer parameter within [min, max].
func (c *Context) IntParam(name string, min, max int) (int, error) {
	s := c.Param(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", name, s)
	}
	if n < min || n > max {
		return 0, fmt.Errorf("%s=%d is out of range (%d to %d)", name, n, min, max)
	}
	return n, nil
}

// BoolParam parses yes/no, true/false, on/off, 1/0 as Rocks' str2bool does.
func (c *Context) BoolParam(name string) (bool, error) {
	switch strings.ToLower(c.Param(name)) {
	case "yes", "y", "true", "on", "1":
		return true, nil
	case "no", "n", "false", "off", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q is not yes or no", name, c.Param(name))
}

// Warn prints one warning line on stderr.
func (c *Context) Warn(format string, a ...any) {
	fmt.Fprintf(c.Err, "warning - "+format+"\n", a...)
}

// Main runs the command line and returns the exit status. args excludes
// the program name.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, open Opener) int {
	dsn := ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		f := strings.TrimLeft(args[0], "-")
		switch {
		case f == "dsn" && len(args) > 1:
			dsn, args = args[1], args[2:]
		case strings.HasPrefix(f, "dsn="):
			dsn, args = strings.TrimPrefix(f, "dsn="), args[1:]
		default:
			fmt.Fprintf(stderr, "error - unknown flag %q (only -dsn DSN)\n", args[0])
			return 1
		}
	}
	if len(args) == 0 || isHelp(args[0]) {
		words, format := helpWords(args)
		if len(words) > 0 {
			words = words[1:]
		}
		if cmd, _ := match(words); cmd != nil {
			return printHelp(stdout, stderr, cmd, format)
		}
		Usage(stdout, words)
		return 0
	}
	cmd, rest := match(args)
	if cmd == nil {
		fmt.Fprintf(stderr, "error - unknown command %q (try: rocks-vcluster help)\n", strings.Join(args, " "))
		return 1
	}
	// As Rocks' runWrapper: help when the first argument that is not
	// key=value is "help"; format= picks the rendering.
	if words, format := helpWords(rest); len(words) > 0 && isHelp(words[0]) {
		return printHelp(stdout, stderr, cmd, format)
	}
	c := &Context{Ctx: ctx, Cmd: cmd, Params: map[string]string{}, Out: stdout, Err: stderr, dsnFlag: dsn, opener: open}
	if err := c.parse(rest); err != nil {
		fmt.Fprintf(stderr, "error - %v\n", oneLine(err))
		return 1
	}
	err := cmd.Run(c)
	if c.db != nil {
		c.db.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "error - %v\n", oneLine(err))
		return 1
	}
	return 0
}

// match finds the command with the longest verb+noun prefix of words.
func match(words []string) (*Command, []string) {
	var best *Command
	n := 0
	for _, c := range registry {
		w := append([]string{c.Verb}, c.Noun...)
		if len(w) > len(words) || len(w) <= n {
			continue
		}
		ok := true
		for i := range w {
			if words[i] != w[i] {
				ok = false
				break
			}
		}
		if ok {
			best, n = c, len(w)
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, words[n:]
}

func (c *Context) parse(words []string) error {
	required, maxArgs := 0, len(c.Cmd.Args)
	for _, a := range c.Cmd.Args {
		if !a.Optional {
			required++
		}
	}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" && !strings.ContainsAny(k, " /") {
			k = strings.ToLower(k)
			if !c.known(k) {
				return fmt.Errorf("unknown parameter %q for %q", k, c.Cmd.Name())
			}
			if _, dup := c.Params[k]; dup {
				return fmt.Errorf("parameter %q given twice", k)
			}
			c.Params[k] = v
			continue
		}
		c.Args = append(c.Args, w)
	}
	if len(c.Args) < required {
		return fmt.Errorf("%q needs %s", c.Cmd.Name(), argList(c.Cmd.Args))
	}
	if len(c.Args) > maxArgs {
		return fmt.Errorf("too many arguments for %q: %q", c.Cmd.Name(), strings.Join(c.Args[maxArgs:], " "))
	}
	return nil
}

func (c *Context) known(k string) bool {
	for _, p := range c.Cmd.Params {
		if p.Name == k {
			return true
		}
	}
	return false
}

func argList(as []Arg) string {
	var s []string
	for _, a := range as {
		if a.Optional {
			s = append(s, "["+a.Name+"]")
		} else {
			s = append(s, a.Name)
		}
	}
	return strings.Join(s, " ")
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func isHelp(w string) bool { return w == "help" || w == "-h" || w == "--help" }

// helpWords splits help's words from its key=value params and returns the
// words and the format= param.
func helpWords(args []string) (words []string, format string) {
	for _, w := range args {
		if k, v, ok := strings.Cut(w, "="); ok && k != "" && !strings.ContainsAny(k, " /") {
			if strings.ToLower(k) == "format" {
				format = v
			}
			continue // Rocks' help ignores other params
		}
		words = append(words, w)
	}
	return words, format
}

// printHelp writes the help and, as Rocks' driver does, ends it with a
// newline.
func printHelp(stdout, stderr io.Writer, cmd *Command, format string) int {
	text, err := HelpText(cmd, format)
	if err != nil {
		fmt.Fprintf(stderr, "error - %v\n", oneLine(err))
		return 1
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	io.WriteString(stdout, text)
	return 0
}

func placeholder(p Param) string {
	return strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))
}

// Usage lists the commands whose name starts with the given words.
func Usage(w io.Writer, words []string) {
	prefix := strings.Join(words, " ")
	fmt.Fprintf(w, "rocks-vcluster: the vcluster roll's commands (run as `rocks <command>` on a frontend).\n")
	fmt.Fprintf(w, "Global flag: -dsn DSN (else $VCLUSTER_DSN, else /root/.rocks.my.cnf and database cluster).\n\n")
	t := NewTable(w, "COMMAND", "DESCRIPTION")
	t.NoKeyColon = true
	for _, c := range Commands() {
		if prefix != "" && !strings.HasPrefix(c.Name(), prefix) {
			continue
		}
		d := strings.Join(strings.Fields(c.Description), " ")
		if i := strings.Index(d, ". "); i > 0 {
			d = d[:i+1]
		}
		t.Row(c.Name(), d)
	}
	t.Flush()
	fmt.Fprintf(w, "\n`rocks-vcluster help <command>` or `<command> help` shows a command's help.\n")
}

// Exit is a convenience for main: Main with os streams.
func Exit(open Opener) {
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, open))
}
