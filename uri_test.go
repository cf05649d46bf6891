package amqp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
)

// def returns the URI that "amqp://" parses to, changed by f.
func def(f func(u *amqp.URI)) amqp.URI {
	u := amqp.URI{Host: "localhost", Port: 5672, Username: "guest", Password: "guest", Vhost: "/"}
	if f != nil {
		f(&u)
	}
	return u
}

var parseTests = []struct {
	in   string
	want amqp.URI
}{
	// The examples of https://www.rabbitmq.com/uri-spec.html.
	{"amqp://user:pass@host:10000/vhost", def(func(u *amqp.URI) {
		u.Username, u.Password, u.Host, u.Port, u.Vhost = "user", "pass", "host", 10000, "vhost"
	})},
	{"amqp://user%61:%61pass@ho%61st:10000/v%2fhost", def(func(u *amqp.URI) {
		u.Username, u.Password, u.Host, u.Port, u.Vhost = "usera", "apass", "hoast", 10000, "v/host"
	})},
	{"amqp://", def(nil)},
	{"amqp://:@/", def(func(u *amqp.URI) { u.Username, u.Password = "", "" })},
	{"amqp://user@", def(func(u *amqp.URI) { u.Username = "user" })},
	{"amqp://user:pass@", def(func(u *amqp.URI) { u.Username, u.Password = "user", "pass" })},
	{"amqp://host", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://:10000", def(func(u *amqp.URI) { u.Port = 10000 })},
	{"amqp:///vhost", def(func(u *amqp.URI) { u.Vhost = "vhost" })},
	{"amqp://host/", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://host/%2f", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://host/%2F", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://[::1]", def(func(u *amqp.URI) { u.Host = "::1" })},

	// Schemes, hosts and ports.
	{"amqps://host", def(func(u *amqp.URI) { u.Host, u.Port, u.TLS = "host", 5671, true })},
	{"AMQPS://host:1234", def(func(u *amqp.URI) { u.Host, u.Port, u.TLS = "host", 1234, true })},
	{"amqp://[::1]:5673/x", def(func(u *amqp.URI) { u.Host, u.Port, u.Vhost = "::1", 5673, "x" })},
	{"amqp://[fe80::1%25eth0]:5672", def(func(u *amqp.URI) { u.Host = "fe80::1%eth0" })},
	{"amqp://10.0.0.1:65535", def(func(u *amqp.URI) { u.Host, u.Port = "10.0.0.1", 65535 })},
	{"amqp://host:", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://rabbit-1.example.com", def(func(u *amqp.URI) { u.Host = "rabbit-1.example.com" })},

	// User info: encoded specials, a raw ':' in the password.
	{"amqp://u:p%40ss%2Fw%3Fo%23rd@host", def(func(u *amqp.URI) { u.Username, u.Password, u.Host = "u", "p@ss/w?o#rd", "host" })},
	{"amqp://u:a:b@host", def(func(u *amqp.URI) { u.Username, u.Password, u.Host = "u", "a:b", "host" })},
	{"amqp://u+v:p+q@host", def(func(u *amqp.URI) { u.Username, u.Password, u.Host = "u+v", "p+q", "host" })},
	{"amqp://host/caf%C3%A9", def(func(u *amqp.URI) { u.Host, u.Vhost = "host", "café" })},

	// Query parameters.
	{"amqp://host?heartbeat=10", def(func(u *amqp.URI) { u.Host, u.Heartbeat = "host", 10*time.Second })},
	{"amqp://host/?heartbeat=0", def(func(u *amqp.URI) { u.Host, u.Heartbeat = "host", amqp.NoHeartbeat })},
	{"amqp://host?frame_max=4096&channel_max=65535", def(func(u *amqp.URI) { u.Host, u.FrameMax, u.ChannelMax = "host", 4096, 65535 })},
	{"amqp://host?frame_max=0&channel_max=0", def(func(u *amqp.URI) { u.Host = "host" })},
	{"amqp://host?connection_timeout=10000", def(func(u *amqp.URI) { u.Host, u.ConnectionTimeout = "host", 10*time.Second })},
	{"amqp://?auth_mechanism=plain&auth_mechanism=AMQPlain", def(func(u *amqp.URI) { u.AuthMechanisms = []string{"PLAIN", "AMQPLAIN"} })},
	{"amqp://?&heartbeat=5&&", def(func(u *amqp.URI) { u.Heartbeat = 5 * time.Second })},
	{"amqps://myhost?cacertfile=/path/to/ca.pem&certfile=/path/to/client.pem&keyfile=/path/to/key.pem" +
		"&verify=verify_none&server_name_indication=other&auth_mechanism=external",
		def(func(u *amqp.URI) {
			u.TLS, u.Host, u.Port = true, "myhost", 5671
			u.CACertFile, u.CertFile, u.KeyFile = "/path/to/ca.pem", "/path/to/client.pem", "/path/to/key.pem"
			u.InsecureSkipVerify, u.ServerName, u.AuthMechanisms = true, "other", []string{"EXTERNAL"}
		})},
	{"amqps://h?verify=verify_peer&cacertfile=/a+b%2Bc%20d", def(func(u *amqp.URI) {
		u.TLS, u.Host, u.Port, u.CACertFile = true, "h", 5671, "/a b+c d"
	})},
}

func TestParseURI(t *testing.T) {
	for _, tt := range parseTests {
		got, err := amqp.ParseURI(tt.in)
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseURI(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
		// The canonical form reads back to the same URI, password aside.
		again, err := amqp.ParseURI(got.String())
		if err != nil {
			t.Errorf("ParseURI(%q).String() = %q does not parse: %v", tt.in, got.String(), err)
			continue
		}
		if got.Password != "" {
			again.Password = got.Password
		}
		if !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q via %q\n got %+v\nwant %+v", tt.in, got.String(), again, got)
		}
	}
}

var parseErrorTests = []struct{ in, want string }{
	{"http://host", `unsupported scheme "http"`},
	{"amqp:/host", "must start with amqp:// or amqps://"},
	{"host:5672", "must start with amqp:// or amqps://"},
	{"", "must start with"},
	{"amqp://host/a/b", "%2F"},
	{"amqp://host//", "%2F"},
	{"amqp://host/%zz", "vhost is not properly percent-encoded"},
	{"amqp://host/" + strings.Repeat("v", 256), "longer than 255"},
	{"amqp://host:0", "port"},
	{"amqp://host:65536", "port"},
	{"amqp://host:abc", "port"},
	{"amqp://host:-1", "port"},
	{"amqp://::1", "brackets"},
	{"amqp://[::1", "']'"},
	{"amqp://[1.2.3.4]", "not an IPv6 address"},
	{"amqp://[::1]x", "after the IPv6 address"},
	{"amqp://ho%zzst", "host is not properly percent-encoded"},
	{"amqp://a%20b", "not allowed in host names"},
	{"amqp://a%3Ab", "not allowed in host names"},
	{"amqp://host#frag", "'#'"},
	{"amqp://host/x\n", "control character"},
	{"amqp://u%zz:p@host", "user name is not properly percent-encoded"},
	{"amqp://host?heartbeat=abc", `heartbeat: "abc"`},
	{"amqp://host?heartbeat=-1", "heartbeat"},
	{"amqp://host?heartbeat=65536", "heartbeat"},
	{"amqp://host?heartbeat=", "heartbeat"},
	{"amqp://host?heartbeat=1&heartbeat=2", `"heartbeat" is given twice`},
	{"amqp://host?frame_max=4095", "frame_max"},
	{"amqp://host?frame_max=4294967296", "frame_max"},
	{"amqp://host?channel_max=65536", "channel_max"},
	{"amqp://host?connection_timeout=1.5", "connection_timeout"},
	{"amqp://host?connection_timeout=99999999999999999", "connection_timeout"},
	{"amqp://host?auth_mechanism=gssapi", `auth_mechanism: "gssapi"`},
	{"amqp://host?verify=maybe", `verify: "maybe"`},
	{"amqp://host?recovery=yes", `recovery: "yes"`},
	{"amqp://host?bogus=1", `unknown query parameter "bogus"`},
	{"amqp://host?Heartbeat=1", `unknown query parameter "Heartbeat"`},
	{"amqp://host?heartbeat=%zz", `"heartbeat": the value is not properly percent-encoded`},
	{"amqp://host?%zz=1", "query parameter name"},
	{"amqp://host?cacertfile=/a@b", "'@'"},
}

func TestParseURIErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		u, err := amqp.ParseURI(tt.in)
		if err == nil {
			t.Errorf("ParseURI(%q) = %+v, want an error", tt.in, u)
			continue
		}
		if !errors.Is(err, amqp.ErrInvalidArgument) {
			t.Errorf("ParseURI(%q): %v does not wrap ErrInvalidArgument", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURI(%q): %q does not contain %q", tt.in, err, tt.want)
		}
		if !strings.HasPrefix(err.Error(), "amqp: ") {
			t.Errorf("ParseURI(%q): %q does not start with \"amqp: \"", tt.in, err)
		}
	}
}

// TestParseURIErrorsHidePassword puts a sentinel password in every kind of
// broken URI, including ones where a misplaced character moves the password
// into the host, port, path or query, and checks no error reveals it.
func TestParseURIErrorsHidePassword(t *testing.T) {
	const pw = "S3ntinelPw"
	inputs := []string{
		"amqp://user:" + pw + "@host/a/b",
		"amqp://user:" + pw + "@host?bogus=1",
		"amqp://user:" + pw + "@host?heartbeat=x",
		"amqp://user:" + pw + "@host?verify=x",
		"amqp://user:" + pw + "@host:99999",
		"amqp://user:" + pw + "@host:x",
		"amqp://user:" + pw + "@[::1",
		"amqp://user:" + pw + "@ho st",
		"amqp://user:" + pw + "@host/%zz",
		"amqp://user:" + pw + "@host#x",
		"amqp://user:S3nt%zzinelPw@host/",
		"amqp://user:S3nt%zinelPw@host/",
		"amqp://user:S3ntinelPw%@host/",
		"amqp://user:" + pw, // no host: the password lands in the port
		"amqp://user:" + pw + "/x@host",
		"amqp://user:S3nt/inelPw@host",
		"amqp://user:S3nt?inelPw@host",
		"amqp://user:S3nt?heartbeat=inelPw@host",
		"amqp://user:S3nt#inelPw@host",
		"amqp://user:S3nt@inelPw@host",
		"amqp://user:S3nt:inelPw:1@host:x",
		"amqp://user:" + pw + "\x00@host",
		"ftp://user:" + pw + "@host",
		"user:" + pw + "@host",
		"amqp//user:" + pw + "@host",
		":" + pw + "@host",
		"amqp:" + pw + "@host",
		"amqp://" + pw + "@host?x=1", // a user name only; still nothing echoed
	}
	for _, in := range inputs {
		_, err := amqp.ParseURI(in)
		if err == nil {
			t.Errorf("ParseURI(%q) succeeded, want an error", in)
			continue
		}
		if !errors.Is(err, amqp.ErrInvalidArgument) {
			t.Errorf("ParseURI(%q): %v does not wrap ErrInvalidArgument", in, err)
		}
		for _, part := range []string{pw, "S3nt", "inelPw"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("ParseURI(%q): error %q reveals the password", in, err)
			}
		}
	}
}

func TestURIString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"amqp://", "amqp://guest:xxxxx@localhost:5672/%2F"},
		{"amqp://u:secret@h/", "amqp://u:xxxxx@h:5672/%2F"},
		{"amqp://u:@h/v", "amqp://u:@h:5672/v"},
		{"amqps://a%40b:p@[::1]:1/v%2Fw?heartbeat=0&frame_max=8192&channel_max=7&connection_timeout=1500" +
			"&auth_mechanism=EXTERNAL&cacertfile=/etc/ca+1.pem&certfile=c&keyfile=k&server_name_indication=sni&verify=verify_none&recovery=TRUE",
			"amqps://a%40b:xxxxx@[::1]:1/v%2Fw?heartbeat=0&connection_timeout=1500&channel_max=7&frame_max=8192" +
				"&auth_mechanism=external&cacertfile=/etc/ca%201.pem&certfile=c&keyfile=k&server_name_indication=sni&verify=verify_none&recovery=true"},
		{"amqp://h?recovery=0", "amqp://guest:xxxxx@h:5672/%2F"},
	}
	for _, tt := range tests {
		u, err := amqp.ParseURI(tt.in)
		if err != nil {
			t.Fatalf("ParseURI(%q): %v", tt.in, err)
		}
		if got := u.String(); got != tt.want {
			t.Errorf("ParseURI(%q).String()\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
	// Durations that are not whole units round up, never down to "off".
	u := amqp.URI{Host: "h", Heartbeat: 500 * time.Millisecond, ConnectionTimeout: time.Microsecond}
	if got, want := u.String(), "amqp://:@h/?heartbeat=1&connection_timeout=1"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestURIAddr(t *testing.T) {
	tests := []struct {
		u    amqp.URI
		want string
	}{
		{amqp.URI{Host: "h", Port: 1}, "h:1"},
		{amqp.URI{Host: "::1", Port: 5672}, "[::1]:5672"},
		{amqp.URI{}, "localhost:5672"},
		{amqp.URI{TLS: true, Host: "h"}, "h:5671"},
	}
	for _, tt := range tests {
		if got := tt.u.Addr(); got != tt.want {
			t.Errorf("%+v.Addr() = %q, want %q", tt.u, got, tt.want)
		}
	}
}

// writePEM creates a self-signed certificate and its key in dir.
func writePEM(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestURITLSConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writePEM(t, dir)

	if cfg, err := (amqp.URI{Host: "h"}).TLSConfig(); cfg != nil || err != nil {
		t.Errorf("plain amqp URI: TLSConfig() = %v, %v; want nil, nil", cfg, err)
	}

	cfg, err := amqp.URI{TLS: true, Host: "broker"}.TLSConfig()
	if err != nil || cfg.ServerName != "broker" || cfg.RootCAs != nil || cfg.InsecureSkipVerify || len(cfg.Certificates) != 0 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}

	u := amqp.URI{TLS: true, Host: "broker", ServerName: "sni", CACertFile: certFile,
		CertFile: certFile, KeyFile: keyFile, InsecureSkipVerify: true}
	cfg, err = u.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "sni" || cfg.RootCAs == nil || !cfg.InsecureSkipVerify || len(cfg.Certificates) != 1 {
		t.Errorf("full: %+v", cfg)
	}

	const secret = "NOT-A-PEM-BUT-A-SECRET"
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	bad := []struct {
		u    amqp.URI
		file string
	}{
		{amqp.URI{TLS: true, CACertFile: missing}, missing},
		{amqp.URI{TLS: true, CACertFile: junk}, junk},
		{amqp.URI{TLS: true, CertFile: missing, KeyFile: keyFile}, missing},
		{amqp.URI{TLS: true, CertFile: certFile, KeyFile: missing}, missing},
		{amqp.URI{TLS: true, CertFile: junk, KeyFile: keyFile}, junk},
		{amqp.URI{TLS: true, CertFile: certFile, KeyFile: junk}, junk},
		{amqp.URI{TLS: true, CertFile: certFile}, "keyfile"},
	}
	for _, tt := range bad {
		_, err := tt.u.TLSConfig()
		if err == nil {
			t.Errorf("%+v: TLSConfig succeeded", tt.u)
			continue
		}
		if !errors.Is(err, amqp.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.file) || strings.Contains(err.Error(), secret) {
			t.Errorf("%+v: TLSConfig error %q: want ErrInvalidArgument naming %s and not its contents", tt.u, err, tt.file)
		}
		if tt.file == missing && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%+v: %v does not match fs.ErrNotExist", tt.u, err)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, tt := range parseErrorTests {
		f.Add(tt.in)
	}
	f.Add("@host/?heartbeat=1")
	f.Add("/x@host?bogus=1")
	const sentinel = "Zq9xSentinelPassword"
	f.Fuzz(func(t *testing.T, s string) {
		u, err := amqp.ParseURI(s)
		if err != nil {
			if !errors.Is(err, amqp.ErrInvalidArgument) {
				t.Fatalf("ParseURI(%q): %v does not wrap ErrInvalidArgument", s, err)
			}
		} else {
			canon := u.String()
			// String does not depend on what the password is.
			if other := u; u.Password != "" {
				other.Password = sentinel
				if other.String() != canon {
					t.Fatalf("ParseURI(%q).String() = %q depends on the password", s, canon)
				}
			}
			again, err := amqp.ParseURI(canon)
			if err != nil {
				t.Fatalf("ParseURI(%q).String() = %q does not parse: %v", s, canon, err)
			}
			if u.Password != "" {
				again.Password = u.Password
			}
			if !reflect.DeepEqual(again, u) {
				t.Fatalf("round trip of %q via %q:\n got %+v\nwant %+v", s, canon, again, u)
			}
		}
		// A sentinel password, whatever follows it, never shows in an error.
		if strings.Contains(s, sentinel[:4]) {
			return
		}
		for _, in := range []string{
			"amqp://user:" + sentinel + s,
			"amqp://user:" + sentinel + "@" + s,
			"amqps://" + s + ":" + sentinel + "@localhost/",
		} {
			if _, err := amqp.ParseURI(in); err != nil && strings.Contains(err.Error(), sentinel[:8]) {
				t.Fatalf("ParseURI(%q): error %q reveals the password", in, err)
			}
		}
	})
}
