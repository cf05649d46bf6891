// Package cli holds what the amqp-* commands share: the connection flags of
// Debian's amqp-tools (rabbitmq-c) plus this module's additions, the URL
// assembly, dialing AMQP 0-9-1 or 0-8 behind one small interface, error
// formatting and exit codes. Each command's main.go declares its own flags,
// calls Parse, then Connect, and maps failures with Fail.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/spf13/pflag"
)

// Exit codes, as amqp-tools uses them.
const (
	ExitOK    = 0 // success
	ExitError = 1 // any error: usage, connection, broker exception
	ExitEmpty = 2 // amqp-get only: the queue was empty
)

// Tool is one command: its name, flag sets and output streams.
type Tool struct {
	Name     string
	Synopsis string         // after the name in "Usage:", e.g. "[OPTIONS]..."
	Flags    *pflag.FlagSet // the command's own flags; declare them before Parse
	Extra    *pflag.FlagSet // the command's flags that amqp-tools lacks
	Conn     ConnFlags      // the connection flags, filled by Parse
	Recover  bool           // Connect turns recovery on (amqp-consume --recover)
	Stdout   io.Writer
	Stderr   io.Writer // safe for concurrent use (the frame tracer writes from the reader goroutine)

	rawStderr io.Writer
	connFlags *pflag.FlagSet
	all       *pflag.FlagSet
	help      bool
	usage     bool
}

// New returns a Tool whose Stderr is serialised, ready for the command's own
// flags to be declared on t.Flags.
func New(name, synopsis string, stdout, stderr io.Writer) *Tool {
	t := &Tool{Name: name, Synopsis: synopsis, Stdout: stdout, Stderr: &syncWriter{w: stderr}, rawStderr: stderr}
	t.Flags = newFlagSet(name)
	t.connFlags = newFlagSet(name)
	t.Extra = newFlagSet(name)
	t.Conn.register(t.connFlags, t.Extra)
	return t
}

func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Parse parses the command line (without the program name). When ok is
// false the command must return code at once: help was printed (0), or a
// usage error was reported (1). Positional arguments are in t.Args().
func (t *Tool) Parse(args []string) (code int, ok bool) {
	t.all = newFlagSet(t.Name)
	t.all.AddFlagSet(t.Flags)
	t.all.AddFlagSet(t.connFlags)
	t.all.AddFlagSet(t.Extra)
	t.all.BoolVarP(&t.help, "help", "?", false, "show this help message")
	t.all.BoolVar(&t.usage, "usage", false, "display a brief usage message")
	err := t.all.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp) || t.help:
		t.PrintHelp(t.Stdout)
		return ExitOK, false
	case t.usage:
		fmt.Fprintf(t.Stdout, "Usage: %s %s\n", t.Name, t.Synopsis)
		return ExitOK, false
	case err != nil:
		return t.Usagef("%v", err), false
	}
	t.Conn.set = func(name string) bool { return t.all.Changed(name) }
	if err := t.Conn.check(); err != nil {
		return t.Usagef("%v", err), false
	}
	return ExitOK, true
}

// Args returns the positional arguments left after Parse.
func (t *Tool) Args() []string { return t.all.Args() }

// Changed reports whether a flag was given on the command line (so that
// -r "" counts as given, as it does for amqp-tools).
func (t *Tool) Changed(name string) bool { return t.all.Changed(name) }

// NoOperands reports a usage error (and returns false) when positional
// arguments were given to a command that takes none.
func (t *Tool) NoOperands() (code int, ok bool) {
	if a := t.Args(); len(a) > 0 {
		return t.Usagef("unexpected operand: %s", a[0]), false
	}
	return ExitOK, true
}

// PrintHelp writes the full help: the command's flags, the connection
// flags, then this module's additions.
func (t *Tool) PrintHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n", t.Name, t.Synopsis)
	fmt.Fprint(w, t.Flags.FlagUsages())
	fmt.Fprintf(w, "\nConnection options\n%s", t.connFlags.FlagUsages())
	fmt.Fprintf(w, "\nOptions added by this implementation\n%s", t.Extra.FlagUsages())
	fmt.Fprint(w, "\nHelp options:\n  -?, --help     show this help message\n      --usage    display a brief usage message\n")
}

// ChildStderr is the standard error to give a child process: the tool's
// own file when it has one (passed on as it is rather than through a pipe),
// else the serialised Stderr.
func (t *Tool) ChildStderr() io.Writer {
	if f, ok := t.rawStderr.(*os.File); ok {
		return f
	}
	return t.Stderr
}

// Usagef reports a usage error on stderr, with a hint, and returns ExitError.
func (t *Tool) Usagef(format string, args ...any) int {
	fmt.Fprintf(t.Stderr, "%s: %s\nUsage: %s %s (see --help)\n", t.Name, fmt.Sprintf(format, args...), t.Name, t.Synopsis)
	return ExitError
}

// Warnf writes a warning to stderr.
func (t *Tool) Warnf(format string, args ...any) {
	fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, fmt.Sprintf(format, args...))
}

// Fail reports err on stderr as "name: what: reason" (the reason of a broker
// exception is its reply code and text) and returns ExitError.
func (t *Tool) Fail(what string, err error) int {
	if what == "" {
		fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, Describe(err))
	} else {
		fmt.Fprintf(t.Stderr, "%s: %s: %s\n", t.Name, what, Describe(err))
	}
	return ExitError
}

// trace returns the Config.Trace function for --verbose (nil without it):
// one line per frame on stderr.
func (t *Tool) trace() func(string) {
	if !t.Conn.Verbose {
		return nil
	}
	return func(line string) { fmt.Fprintf(t.Stderr, "%s: %s\n", t.Name, line) }
}

// syncWriter serialises writes: frame traces come from the connection's
// reader goroutine while the command writes its own errors.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Quote escapes control bytes the way amqp-consume prints a server-named
// queue (\ooo octal, as rabbitmqctl does), leaving other bytes alone.
func Quote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 32 && c != 127 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%03o", c)
		}
	}
	return b.String()
}
