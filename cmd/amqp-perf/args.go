package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
)

// seconds is a duration flag that also takes a bare number of seconds, as
// PerfTest's -z does ("-z 10" or "-z 10s").
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil {
		return "0s"
	}
	return s.d.String()
}

func (s seconds) Type() string { return "seconds" }

func (s seconds) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > 1e9 {
			return fmt.Errorf("%q: out of range", v)
		}
		*s.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 30s, not %q", v)
	}
	*s.d = d
	return nil
}

// Queue types accepted in x-queue-type.
var queueTypes = []string{"classic", "quorum", "stream"}

// parseQueueArgs reads --queue-args values: comma-separated name=value
// pairs. An untyped value that is an integer is sent as an integer (a
// signed 32-bit one when it fits, else 64-bit), true and false as booleans,
// anything else as a string. name:TYPE=value forces a type: int, bool,
// float or string.
func parseQueueArgs(values []string) (amqp.Table, error) {
	if len(values) == 0 {
		return nil, nil
	}
	t := amqp.Table{}
	for _, v := range values {
		for _, pair := range strings.Split(v, ",") {
			pair = strings.TrimSpace(pair)
			name, value, ok := strings.Cut(pair, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("--queue-args %q: want name=value pairs separated by commas, e.g. x-queue-type=quorum,x-max-length=1000", pair)
			}
			name, typ, typed := strings.Cut(name, ":")
			if name == "" {
				return nil, fmt.Errorf("--queue-args %q: empty argument name", pair)
			}
			if _, dup := t[name]; dup {
				return nil, fmt.Errorf("--queue-args: %s given twice", name)
			}
			var (
				x   any
				err error
			)
			if typed {
				x, err = typedValue(typ, value)
			} else {
				x = guessValue(value)
			}
			if err != nil {
				return nil, fmt.Errorf("--queue-args %q: %w", pair, err)
			}
			t[name] = x
		}
	}
	if qt, ok := t["x-queue-type"]; ok {
		s, _ := qt.(string)
		if !contains(queueTypes, s) {
			return nil, fmt.Errorf("--queue-args: unknown x-queue-type %v: want %s", qt, strings.Join(queueTypes, ", "))
		}
	}
	return t, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// guessValue types an untyped queue argument.
func guessValue(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return intValue(n)
	}
	if v == "true" || v == "false" {
		return v == "true"
	}
	return v
}

func intValue(n int64) any {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return int32(n)
	}
	return n
}

// typedValue converts a value given as name:TYPE=value.
func typedValue(typ, v string) (any, error) {
	switch typ {
	case "int", "long":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return intValue(n), nil
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return b, nil
	case "float", "double":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	case "string", "str":
		return v, nil
	}
	return nil, fmt.Errorf("unknown argument type %q: want int, bool, float or string", typ)
}

// maxPatternQueues bounds --queue-pattern's range.
const maxPatternQueues = 10000

// queueNames returns the queues the user named: -u's, or those of the
// pattern (nil: amqp-perf declares a fresh queue).
func queueNames(queue, pattern string, from, to int, rangeGiven bool) ([]string, error) {
	switch {
	case queue != "" && pattern != "":
		return nil, errors.New("-u/--queue and --queue-pattern exclude each other")
	case rangeGiven && pattern == "":
		return nil, errors.New("--queue-pattern-from/--queue-pattern-to need --queue-pattern")
	case queue != "":
		if len(queue) > 255 {
			return nil, errors.New("-u/--queue: a queue name has at most 255 bytes")
		}
		return []string{queue}, nil
	case pattern == "":
		return nil, nil
	}
	if strings.Count(pattern, "%d") != 1 || strings.Contains(strings.ReplaceAll(strings.ReplaceAll(pattern, "%%", ""), "%d", ""), "%") {
		return nil, fmt.Errorf("--queue-pattern %q: want exactly one %%d (and %%%% for a literal %%)", pattern)
	}
	if from < 0 || to < from {
		return nil, fmt.Errorf("--queue-pattern-from %d, --queue-pattern-to %d: want 0 <= from <= to", from, to)
	}
	if to-from >= maxPatternQueues {
		return nil, fmt.Errorf("--queue-pattern: at most %d queues", maxPatternQueues)
	}
	var names []string
	for i := from; i <= to; i++ {
		name := fmt.Sprintf(pattern, i)
		if len(name) > 255 {
			return nil, fmt.Errorf("--queue-pattern: %q is longer than 255 bytes", name)
		}
		names = append(names, name)
	}
	return names, nil
}
