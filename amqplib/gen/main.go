// Command gen writes the Go method structs of one AMQP dialect package from
// the spec XML of the Debian package amqp-specs.
//
// Each dialect package runs it through go:generate, for example:
//
//	//go:generate go run ../amqplib/gen -spec /usr/share/amqp/specs/0-8/amqp0-8.stripped.xml -package client08 -out zmethods.go
//
// For every method of the selected classes it emits a struct (exported
// fields for the arguments, reserved 0-9-1 fields kept off the struct but on
// the wire) implementing wire.Method with straight-line Encode and Decode
// code; the wire.Exception role methods on connection.close and
// channel.close; NewMethod, which maps an id to a new zero struct; and Known,
// the wire.Known ids the engine needs.
//
// Flags:
//
//	-spec FILE      spec XML (required)
//	-package NAME   Go package name (required)
//	-out FILE       output file (default: standard output)
//	-classes LIST   comma-separated classes to generate (default: the client classes)
//	-extra FILE     XML with methods to add to the spec, same format; repeatable.
//	                Used for RabbitMQ extensions the Debian 0-9-1 XML lacks
//	                (connection.blocked, unblocked, update-secret).
//	-check          do not write; fail if -out is missing or differs.
//	                Setting AMQPLIB_GEN_CHECK=1 does the same, so
//	                `AMQPLIB_GEN_CHECK=1 go generate ./...` checks staleness.
//
// Output is deterministic: it depends only on the inputs' contents and base
// names.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	specPath := flag.String("spec", "", "spec XML file (required)")
	pkg := flag.String("package", "", "Go package name (required)")
	out := flag.String("out", "", "output file (default: standard output)")
	classes := flag.String("classes", defaultClasses, "comma-separated classes to generate")
	check := flag.Bool("check", os.Getenv("AMQPLIB_GEN_CHECK") == "1", "fail if -out is not up to date instead of writing it")
	var extras stringList
	flag.Var(&extras, "extra", "XML file with methods to add to the spec (repeatable)")
	flag.Parse()

	if *specPath == "" || *pkg == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	src, err := run(*specPath, *pkg, strings.Split(*classes, ","), extras)
	if err != nil {
		fatalf("%v", err)
	}
	switch {
	case *out == "":
		_, err = os.Stdout.Write(src)
	case *check:
		old, rerr := os.ReadFile(*out)
		if rerr != nil || !bytes.Equal(old, src) {
			fatalf("%s is out of date; run go generate", *out)
		}
	default:
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

// run reads the spec and any extra files and returns the generated source.
func run(specPath, pkg string, classes, extraPaths []string) ([]byte, error) {
	spec, err := readXML(specPath)
	if err != nil {
		return nil, err
	}
	added := map[string]string{}
	var extraNames []string
	for _, p := range extraPaths {
		x, err := readXML(p)
		if err != nil {
			return nil, err
		}
		if err := merge(spec, x, filepath.Base(p), added); err != nil {
			return nil, err
		}
		extraNames = append(extraNames, filepath.Base(p))
	}
	model, err := resolve(spec, classes, added)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specPath, err)
	}
	return generate(model, pkg, filepath.Base(specPath), extraNames)
}

func readXML(path string) (*xmlSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := parseXML(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "amqplib/gen: "+format+"\n", args...)
	os.Exit(1)
}
