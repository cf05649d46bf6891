package docs_test

import (
	"bufio"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A snippet is one fenced ```go block of a guide. Every snippet is
// type-checked (go vet) as a package of its own in a throw-away module that
// replaces github.com/amqplib-go/amqp with this repository. There are three
// kinds, told apart by the first line that is not blank or a comment:
//
//   - "package ...": a whole file, compiled as it is.
//   - "func ", "type ", "var ", "const ": top-level declarations, put in a
//     package main after a fixed import list (see prelude), with an empty
//     main unless the snippet has one.
//   - anything else: statements, put inside
//     func snippet(ctx context.Context, url string, conn *client091.Conn, ch *client091.Channel) error
//     so they may use those four names, declare their own (shadowing them)
//     and return an error.
//
// A //line directive maps compiler messages back to the Markdown file and
// line. Go code of other libraries (the migration guides) is fenced
// ```golang instead: highlighted, not compiled, and allowed only in
// migrating-*.md.
type snippet struct {
	file string // Markdown file, absolute
	line int    // line of the first code line
	code string
}

// prelude is the import list of declaration and statement snippets; the
// blank assignments keep unused imports legal.
const prelude = `package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
)

var (
	_ = context.Background
	_ = tls.VersionTLS12
	_ = errors.Is
	_ = fmt.Sprint
	_ = log.Fatal
	_ = os.Getenv
	_ = strings.Cut
	_ = time.Second
	_ = amqp.NewMessage[string]
	_ = client08.Dial
	_ = client091.Dial
)
`

var fence = regexp.MustCompile("^(\\s*)```(.*)$")

// extract returns the go snippets of a Markdown file and the lines of its
// golang blocks.
func extract(t *testing.T, path string) (snippets []snippet, golang []int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		in    bool
		info  string
		pad   string
		start int
		body  []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fence.FindStringSubmatch(line)
		if !in {
			if m != nil {
				in, pad, info, start, body = true, m[1], strings.TrimSpace(m[2]), n+1, nil
			}
			continue
		}
		if m != nil && strings.TrimSpace(m[2]) == "" {
			in = false
			switch info {
			case "go":
				snippets = append(snippets, snippet{path, start, strings.Join(body, "\n") + "\n"})
			case "golang":
				golang = append(golang, start-1)
			}
			continue
		}
		body = append(body, strings.TrimPrefix(line, pad))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if in {
		t.Errorf("%s:%d: code block never closed", path, start-1)
	}
	return snippets, golang
}

const (
	wholeFile = iota
	declarations
	statements
)

// kind tells the three kinds of snippet apart by their first code line.
func (s snippet) kind() int {
	for l := range strings.SplitSeq(s.code, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		switch {
		case strings.HasPrefix(l, "package "):
			return wholeFile
		case strings.HasPrefix(l, "func "), strings.HasPrefix(l, "type "),
			strings.HasPrefix(l, "var "), strings.HasPrefix(l, "const "):
			return declarations
		}
		break
	}
	return statements
}

var hasMain = regexp.MustCompile(`(?m)^func main\(\)`)

// source turns a snippet into a Go file.
func (s snippet) source() string {
	lineDir := fmt.Sprintf("//line %s:%d\n", s.file, s.line)
	switch s.kind() {
	case wholeFile:
		return lineDir + s.code
	case declarations:
		src := prelude
		if !hasMain.MatchString(s.code) {
			src += "\nfunc main() {}\n"
		}
		return src + "\n" + lineDir + s.code
	default:
		// "if true" keeps a trailing "return nil" reachable after a snippet
		// that ends in a return.
		return prelude + `
func main() {}

func snippet(ctx context.Context, url string, conn *client091.Conn, ch *client091.Channel) error {
	if true {
` + lineDir + s.code + `
	}
	return nil
}
`
	}
}

func guides(t *testing.T) []string {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no guides found")
	}
	files = append(files, "../README.md") // its first example compiles as written
	for i, f := range files {
		if files[i], err = filepath.Abs(f); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// TestSnippetsCompile type-checks every ```go block of docs/*.md with one
// go vet run over a package per snippet.
func TestSnippetsCompile(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to compile the snippets: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var all []snippet
	for _, path := range guides(t) {
		s, golang := extract(t, path)
		all = append(all, s...)
		if len(golang) > 0 && !strings.HasPrefix(filepath.Base(path), "migrating-") {
			t.Errorf("%s:%d: ```golang (not compiled) is only for other libraries' code in migrating-*.md; use ```go", path, golang[0])
		}
	}
	if len(all) == 0 {
		t.Fatal("no ```go snippets found")
	}

	dir := t.TempDir()
	gomod := "module docsnippets\n\ngo 1.26\n\nrequire github.com/amqplib-go/amqp v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/amqplib-go/amqp => " + root + "\n"
	write(t, filepath.Join(dir, "go.mod"), gomod)
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		write(t, filepath.Join(dir, "go.sum"), string(sum))
	}
	where := map[string]snippet{}
	for i, s := range all {
		pkg := fmt.Sprintf("s%03d", i)
		where[pkg] = s
		write(t, filepath.Join(dir, pkg, "main.go"), s.source())
	}

	cmd := exec.Command(goTool, "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go vet of the %d doc snippets failed: %v\n%s", len(all), err, out)
		// Name the snippets whose package failed, for errors the //line
		// directives cannot place (in the generated wrapper).
		seen := map[string]bool{}
		for _, m := range regexp.MustCompile(`docsnippets/(s\d{3})`).FindAllStringSubmatch(string(out), -1) {
			if s, ok := where[m[1]]; ok && !seen[m[1]] {
				seen[m[1]] = true
				t.Logf("%s is the snippet at %s:%d", m[1], filepath.Base(s.file), s.line)
			}
		}
		return
	}
	t.Logf("%d snippets compiled", len(all))
}

// TestSnippetsFormatted checks that every ```go block is gofmt-formatted
// (statements are formatted as the body of a function).
func TestSnippetsFormatted(t *testing.T) {
	for _, path := range guides(t) {
		snippets, _ := extract(t, path)
		for _, s := range snippets {
			src, prefix := s.code, ""
			if s.kind() == statements {
				prefix = "package p\n\nfunc _() {\n"
				src = prefix + indent(s.code) + "}\n"
			} else if s.kind() == declarations {
				prefix = "package p\n\n"
				src = prefix + s.code
			}
			got, err := format.Source([]byte(src))
			if err != nil {
				t.Errorf("%s:%d: %v", filepath.Base(s.file), s.line, err)
				continue
			}
			if string(got) != src {
				t.Errorf("%s:%d: snippet is not gofmt-formatted; gofmt gives:\n%s", filepath.Base(s.file), s.line,
					strings.TrimPrefix(string(got), prefix))
			}
		}
	}
}

// indent indents every non-empty line by one tab.
func indent(code string) string {
	lines := strings.Split(strings.TrimSuffix(code, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\t" + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var link = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)\s]*)?\)`)

// TestLinks checks that relative links between the guides lead to files
// that exist, and that the index lists every guide.
func TestLinks(t *testing.T) {
	index, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range guides(t) {
		base := filepath.Base(path)
		if base != "README.md" && !strings.Contains(string(index), "("+base+")") {
			t.Errorf("README.md does not link to %s", base)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
				t.Errorf("%s: broken link %s", base, target)
			}
		}
	}
}
