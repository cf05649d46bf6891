package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/spf13/pflag"
)

// DefaultURL is used when neither --url nor $AMQP_URL is given: RabbitMQ on
// localhost, user guest, the default vhost "/".
const DefaultURL = "amqp://guest:guest@localhost:5672"

// Protocol versions accepted by --protocol.
const (
	Proto091 = "0-9-1"
	Proto08  = "0-8"
)

// ConnFlags are the connection flags every command takes: those of
// amqp-tools (see librabbitmq-tools(7)) and this module's additions.
type ConnFlags struct {
	URL       string
	Server    string // host[:port], or a comma-separated list of them
	Port      int
	Vhost     string
	Username  string
	Password  string
	Heartbeat int // seconds, 0 = off; only when given
	Authfile  string
	SSL       bool
	CACert    string
	Key       string
	Cert      string

	Protocol string        // "0-9-1" or "0-8"
	Timeout  time.Duration // 0: the library's default (30 s)
	Verbose  bool

	set func(name string) bool // reports whether a flag was given
}

func (c *ConnFlags) register(conn, extra *pflag.FlagSet) {
	conn.StringVarP(&c.URL, "url", "u", "", "the AMQP URL to connect to (default $AMQP_URL, else "+DefaultURL+")")
	conn.StringVarP(&c.Server, "server", "s", "", "the AMQP server to connect to, as host or host:port; a comma-separated list names more nodes of a cluster, tried in shuffled order")
	conn.IntVar(&c.Port, "port", 0, "the port to connect on")
	conn.StringVar(&c.Vhost, "vhost", "", "the vhost to use when connecting")
	conn.StringVar(&c.Username, "username", "", "the username to login with")
	conn.StringVar(&c.Password, "password", "", "the password to login with")
	conn.IntVar(&c.Heartbeat, "heartbeat", 0, "heartbeat interval in seconds, set to 0 to disable")
	conn.StringVar(&c.Authfile, "authfile", "", "path to a file of two lines, \"username:NAME\" and \"password:SECRET\"")
	conn.BoolVar(&c.SSL, "ssl", false, "connect over SSL/TLS")
	conn.StringVar(&c.CACert, "cacert", "", "path to the CA certificate file (PEM; default: the system's CAs)")
	conn.StringVar(&c.Key, "key", "", "path to the client private key file (PEM)")
	conn.StringVar(&c.Cert, "cert", "", "path to the client certificate file (PEM)")
	extra.StringVar(&c.Protocol, "protocol", Proto091, "AMQP version to speak: 0-9-1 or 0-8")
	extra.DurationVar(&c.Timeout, "timeout", 0, "bound on connecting and on every wait for the broker, e.g. 5s (default 30s)")
	extra.BoolVar(&c.Verbose, "verbose", false, "print every frame sent and received on stderr")
}

// check validates the flags that need no I/O.
func (c *ConnFlags) check() error {
	switch c.Protocol {
	case Proto091, Proto08:
	default:
		return fmt.Errorf("--protocol must be %s or %s, not %q", Proto091, Proto08, c.Protocol)
	}
	if c.Timeout < 0 {
		return errors.New("--timeout must not be negative")
	}
	if c.set("heartbeat") && (c.Heartbeat < 0 || c.Heartbeat > 65535) {
		return errors.New("--heartbeat must be a number of seconds from 0 to 65535")
	}
	if c.set("port") && (c.Port < 1 || c.Port > 65535) {
		return errors.New("--port must be from 1 to 65535")
	}
	if c.set("authfile") && (c.set("username") || c.set("password")) {
		return errors.New("--authfile cannot be used with --username or --password")
	}
	if c.set("server") {
		for _, s := range strings.Split(c.Server, ",") {
			host, port, hasPort := splitServer(s)
			if host == "" {
				return fmt.Errorf("--server: empty host in %q", c.Server)
			}
			if !hasPort {
				continue
			}
			if c.set("port") {
				return errors.New("both --server and --port options specify the server port")
			}
			if _, err := parsePort(port); err != nil {
				return fmt.Errorf("bad server port number in %q", s)
			}
		}
	}
	return nil
}

// Addresses returns the servers after the first of a comma-separated
// --server, for amqp.Config.Addresses.
func (c *ConnFlags) Addresses() []string {
	if !c.set("server") {
		return nil
	}
	servers := strings.Split(c.Server, ",")
	return servers[1:]
}

// URI assembles where to connect: --url, else $AMQP_URL, else DefaultURL,
// with the parts given by other flags overriding the URL's. getenv is
// os.Getenv outside tests.
func (c *ConnFlags) URI(getenv func(string) string) (amqp.URI, error) {
	raw := c.URL
	if !c.set("url") {
		if raw = getenv("AMQP_URL"); raw == "" {
			raw = DefaultURL
		}
	}
	u, err := amqp.ParseURI(raw)
	if err != nil {
		what := "--url"
		if !c.set("url") {
			what = "$AMQP_URL"
		}
		return amqp.URI{}, fmt.Errorf("%s: %s", what, Describe(err))
	}
	portGiven := false
	if c.set("server") {
		first, _, _ := strings.Cut(c.Server, ",")
		host, port, hasPort := splitServer(first)
		u.Host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		// As in amqp-tools, a server without a port means the standard port.
		u.Port = 0
		if hasPort {
			u.Port, _ = parsePort(port)
			portGiven = true
		}
	}
	if c.set("port") {
		u.Port, portGiven = c.Port, true
	}
	if c.SSL && !u.TLS {
		u.TLS = true
		if !portGiven && u.Port == 5672 {
			u.Port = 5671 // the URL's port was plain AMQP's
		}
	}
	if u.Port == 0 {
		u.Port = 5672
		if u.TLS {
			u.Port = 5671
		}
	}
	if c.set("vhost") {
		u.Vhost = c.Vhost
	}
	if c.set("username") {
		u.Username = c.Username
	}
	if c.set("password") {
		u.Password = c.Password
	}
	if c.set("authfile") {
		if u.Username, u.Password, err = ReadAuthfile(c.Authfile); err != nil {
			return amqp.URI{}, err
		}
	}
	if c.set("heartbeat") {
		u.Heartbeat = time.Duration(c.Heartbeat) * time.Second
		if c.Heartbeat == 0 {
			u.Heartbeat = amqp.NoHeartbeat
		}
	}
	if c.set("cacert") {
		u.CACertFile = c.CACert
	}
	if c.set("key") {
		u.KeyFile = c.Key
	}
	if c.set("cert") {
		u.CertFile = c.Cert
	}
	return u, nil
}

// splitServer splits "host[:port]"; an IPv6 address goes in brackets.
func splitServer(s string) (host, port string, hasPort bool) {
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end >= 0 {
			host, rest := s[:end+1], s[end+1:]
			if p, ok := strings.CutPrefix(rest, ":"); ok {
				return host, p, true
			}
			return host, "", false
		}
	}
	if strings.Count(s, ":") > 1 { // a bare IPv6 address
		return s, "", false
	}
	return strings.Cut(s, ":")
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("bad port")
	}
	return n, nil
}

// maxAuthLine is the longest line amqp-tools accepts in an auth file,
// newline included.
const maxAuthLine = 127

// ReadAuthfile reads a file in amqp-tools' --authfile format: exactly two
// lines, "username:NAME" then "password:SECRET", each ended by a newline,
// and nothing after. Everything after the colon is taken as it is (spaces
// too). Errors never show the file's contents.
func ReadAuthfile(path string) (user, password string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("could not read auth data file %q: %w", path, unwrapPath(err))
	}
	defer f.Close()
	return parseAuth(bufio.NewReader(io.LimitReader(f, 4*maxAuthLine)))
}

func parseAuth(r *bufio.Reader) (user, password string, err error) {
	field := func(prefix, name string) (string, error) {
		line, err := r.ReadString('\n')
		if !strings.HasPrefix(line, prefix) {
			return "", fmt.Errorf("malformed auth file (missing %s)", name)
		}
		if err != nil || len(line) > maxAuthLine {
			return "", fmt.Errorf("malformed auth file (%s too long or not ended by a newline)", name)
		}
		return strings.TrimSuffix(line[len(prefix):], "\n"), nil
	}
	if user, err = field("username:", "username"); err != nil {
		return "", "", err
	}
	if password, err = field("password:", "password"); err != nil {
		return "", "", err
	}
	if rest, _ := r.Peek(1); len(rest) > 0 {
		return "", "", errors.New("malformed auth file (trailing data)")
	}
	return user, password, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseHeader splits an amqp-publish -H argument, "key: value", at the
// first colon; spaces after the colon are skipped, as amqp-tools does.
func ParseHeader(s string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(s, ":")
	return key, strings.TrimLeft(value, " "), ok
}
