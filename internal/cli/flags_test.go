package cli

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, args ...string) *Tool {
	t.Helper()
	tool := New("amqp-test", "[OPTIONS]...", io.Discard, io.Discard)
	if code, ok := tool.Parse(args); !ok {
		t.Fatalf("Parse(%q) failed with exit %d", args, code)
	}
	return tool
}

func env(url string) func(string) string {
	return func(k string) string {
		if k == "AMQP_URL" {
			return url
		}
		return ""
	}
}

func TestURI(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want string // dialURL of the result
	}{
		{"", nil, "amqp://guest:guest@localhost:5672/%2F"},
		{"amqp://u:p@h:1234/v", nil, "amqp://u:p@h:1234/v"},
		{"amqp://u:p@h:1234/v", []string{"-u", "amqp://a:b@c"}, "amqp://a:b@c:5672/%2F"},
		{"amqp://u:p@h:1234/", nil, "amqp://u:p@h:1234/%2F"}, // a trailing "/" is the default vhost
		// Flags override the URL's parts.
		{"amqp://u:p@h:1234/v", []string{"--vhost", "/", "--username", "me", "--password", "p@ss:/w"}, "amqp://me:p%40ss%3A%2Fw@h:1234/%2F"},
		{"amqp://u:p@h:1234/v", []string{"--port", "99"}, "amqp://u:p@h:99/v"},
		// -s without a port means the standard port, as in amqp-tools.
		{"amqp://u:p@h:1234/v", []string{"-s", "other"}, "amqp://u:p@other:5672/v"},
		{"", []string{"-s", "other:5999"}, "amqp://guest:guest@other:5999/%2F"},
		{"", []string{"-s", "[::1]:5999"}, "amqp://guest:guest@[::1]:5999/%2F"},
		{"", []string{"-s", "::1"}, "amqp://guest:guest@[::1]:5672/%2F"},
		// --ssl: TLS, and plain AMQP's port becomes 5671 unless one was given.
		{"", []string{"--ssl"}, "amqps://guest:guest@localhost:5671/%2F"},
		{"", []string{"--ssl", "--port", "5672"}, "amqps://guest:guest@localhost:5672/%2F"},
		{"", []string{"--ssl", "-s", "h"}, "amqps://guest:guest@h:5671/%2F"},
		{"amqps://h", nil, "amqps://guest:guest@h:5671/%2F"},
	} {
		tool := parse(t, tc.args...)
		u, err := tool.Conn.URI(env(tc.env))
		if err != nil {
			t.Errorf("env %q args %q: %v", tc.env, tc.args, err)
			continue
		}
		if got := dialURL(u); got != tc.want {
			t.Errorf("env %q args %q: %s, want %s", tc.env, tc.args, got, tc.want)
		}
		back, err := amqp.ParseURI(dialURL(u))
		if err != nil || back.Username != u.Username || back.Password != u.Password || back.Vhost != u.Vhost || back.Addr() != u.Addr() {
			t.Errorf("dialURL(%+v) does not parse back: %+v, %v", u, back, err)
		}
	}
}

func TestURIOptions(t *testing.T) {
	tool := parse(t, "--heartbeat", "0", "--cacert", "ca.pem", "--key", "k.pem", "--cert", "c.pem")
	u, err := tool.Conn.URI(env("amqp://h?frame_max=8192"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Heartbeat != amqp.NoHeartbeat || u.FrameMax != 8192 || u.CACertFile != "ca.pem" || u.KeyFile != "k.pem" || u.CertFile != "c.pem" {
		t.Errorf("got %+v", u)
	}
	tool = parse(t, "--heartbeat", "7", "--timeout", "2s", "--protocol", "0-8", "--verbose")
	u, _ = tool.Conn.URI(env(""))
	if u.Heartbeat != 7*time.Second || tool.Conn.Timeout != 2*time.Second || tool.Conn.Protocol != Proto08 || tool.trace() == nil {
		t.Errorf("got %+v, %+v", u, tool.Conn)
	}
	if _, err := parse(t).Conn.URI(env("amqp://u:secret@h:99999")); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad $AMQP_URL: %v", err)
	}
}

// A comma-separated --server: the first is the URL's host, the others go
// to Config.Addresses.
func TestServerList(t *testing.T) {
	tool := parse(t, "-s", "a:1,b:2,[::1]:3,c")
	u, err := tool.Conn.URI(env(""))
	require.NoError(t, err)
	assert.Equal(t, "a", u.Host)
	assert.Equal(t, 1, u.Port)
	assert.Equal(t, []string{"b:2", "[::1]:3", "c"}, tool.Conn.Addresses())
	assert.Nil(t, parse(t).Conn.Addresses())
}

func TestParseErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--protocol", "0-10"}, {"--timeout", "-1s"}, {"--heartbeat", "-1"}, {"--port", "0"}, {"--port", "x"},
		{"-s", "h:1", "--port", "2"}, {"-s", "h:x"}, {"-s", "h,i:x"}, {"-s", "h,,i"}, {"-s", "h,i:1", "--port", "2"}, {"--authfile", "f", "--username", "u"}, {"--bogus"},
	} {
		var stderr strings.Builder
		tool := New("amqp-test", "[OPTIONS]...", io.Discard, &stderr)
		if code, ok := tool.Parse(args); ok || code != ExitError || !strings.HasPrefix(stderr.String(), "amqp-test: ") {
			t.Errorf("Parse(%q) = %d, %v; stderr %q", args, code, ok, stderr.String())
		}
	}
	var stdout strings.Builder
	tool := New("amqp-test", "[OPTIONS]...", &stdout, io.Discard)
	if code, ok := tool.Parse([]string{"-?"}); ok || code != ExitOK || !strings.Contains(stdout.String(), "Connection options") {
		t.Errorf("-?: %d %v %q", code, ok, stdout.String())
	}
}

func TestAuthfile(t *testing.T) {
	for _, tc := range []struct{ content, user, pass, err string }{
		{"username:guest\npassword:guest\n", "guest", "guest", ""},
		{"username: sp ace\npassword:p:w\n", " sp ace", "p:w", ""},
		{"username:\npassword:\n", "", "", ""},
		{"guest:guest\n", "", "", "missing username"},
		{"username:guest\n", "", "", "missing password"},
		{"username:guest\npassword:guest", "", "", "not ended by a newline"},
		{"username:guest\npassword:guest\n\n", "", "", "trailing data"},
		{"username:" + strings.Repeat("u", 200) + "\npassword:x\n", "", "", "too long"},
	} {
		user, pass, err := parseAuth(bufio.NewReader(strings.NewReader(tc.content)))
		if tc.err == "" && (err != nil || user != tc.user || pass != tc.pass) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: %q %q %v, want %q %q %q", tc.content, user, pass, err, tc.user, tc.pass, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "guest") {
			t.Errorf("%q: the error shows the file's contents: %v", tc.content, err)
		}
	}
	path := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(path, []byte("username:me\npassword:pw\n"), 0o600)
	tool := parse(t, "--authfile", path)
	if u, err := tool.Conn.URI(env("amqp://a:b@h")); err != nil || u.Username != "me" || u.Password != "pw" {
		t.Errorf("--authfile: %+v %v", u, err)
	}
	if _, _, err := ReadAuthfile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing auth file: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string][3]string{
		"k: v": {"k", "v", "ok"}, "k:v": {"k", "v", "ok"}, "k :  v: w ": {"k ", "v: w ", "ok"}, "novalue": {"novalue", "", ""},
	} {
		k, v, ok := ParseHeader(in)
		if k != want[0] || v != want[1] || ok != (want[2] == "ok") {
			t.Errorf("ParseHeader(%q) = %q %q %v", in, k, v, ok)
		}
	}
}

func TestDescribe(t *testing.T) {
	broker := &amqp.ClosedError{What: "channel 1", Reason: &amqp.Error{Code: 404, Text: "NOT_FOUND - no queue 'q'", ClassID: 60, MethodID: 70}}
	for err, want := range map[error]string{
		broker:                                 "404 NOT_FOUND - no queue 'q'",
		&OpError{Op: "basic.get", Err: broker}: "basic.get: 404 NOT_FOUND - no queue 'q'",
		errors.New("amqp: handshake failed: amqp: timeout"):       "handshake failed: timeout",
		&amqp.Error{Code: 404, Text: "NOT_FOUND\n\x1b[31mforged"}: `404 NOT_FOUND\012\033[31mforged`, // a broker's control characters never reach the terminal
	} {
		if got := Describe(err); got != want {
			t.Errorf("Describe(%v) = %q, want %q", err, got, want)
		}
	}
	if got := Quote("a\x00b\n\x7fé"); got != `a\000b\012\177é` {
		t.Errorf("Quote = %q", got)
	}
}

// dialURL writes the parts of u the clients read from a URL (scheme, user,
// password, host, port, vhost), every byte but unreserved ones
// percent-encoded. The rest of u travels in amqp.Config. (amqp.URI.String
// hides the password, so tests compare this.)
func dialURL(u amqp.URI) string {
	scheme := "amqp://"
	if u.TLS {
		scheme = "amqps://"
	}
	return scheme + escape(u.Username) + ":" + escape(u.Password) + "@" +
		net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) + "/" + escape(u.Vhost)
}

func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
