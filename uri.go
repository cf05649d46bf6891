package amqp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// NoHeartbeat disables heartbeats. It is what "heartbeat=0" in a URI means;
// a zero Heartbeat means "not given" (use the broker's proposal).
const NoHeartbeat time.Duration = -1

// redactedPassword stands for the password wherever a URI is printed.
const redactedPassword = "xxxxx"

// URI is a parsed AMQP URI, as described by RabbitMQ's URI specification
// (https://www.rabbitmq.com/uri-spec.html) and its query parameters
// (https://www.rabbitmq.com/uri-query-parameters.html):
//
//	amqp[s]://user:password@host:port/vhost?heartbeat=10&auth_mechanism=plain
//
// Zero numeric fields mean "not given": the connection then uses the
// broker's proposal or the client's default.
type URI struct {
	TLS               bool          // amqps
	Host              string        // host name or IP address, without brackets
	Port              int           // 5672 for amqp, 5671 for amqps unless given
	Username          string        // "guest" when the URI has no user info
	Password          string        // "guest" when the URI has no password
	Vhost             string        // "/" when the URI has no path
	Heartbeat         time.Duration // heartbeat (s); NoHeartbeat for heartbeat=0
	FrameMax          uint32        // frame_max (bytes); 0 or at least 4096
	ChannelMax        uint16        // channel_max
	ConnectionTimeout time.Duration // connection_timeout (ms)
	AuthMechanisms    []string      // auth_mechanism, upper case, in order given
	CACertFile        string        // cacertfile: PEM file of trusted CAs
	CertFile          string        // certfile: PEM client certificate
	KeyFile           string        // keyfile: PEM client key
	ServerName        string        // server_name_indication (default: Host)
	// InsecureSkipVerify is set by verify=verify_none: the broker's
	// certificate is not checked.
	InsecureSkipVerify bool
	// Recovery is set by recovery=true (this library's parameter): the
	// connection recovers by itself with the default policy, as a non-nil
	// Config.Recovery{} asks. A Config.Recovery given in code wins.
	Recovery bool
}

// ParseURI parses an amqp:// or amqps:// URI.
//
// Without user info the user and password are guest/guest; without a host,
// localhost; without a path, or with a bare "/" path (as in
// "amqp://guest:guest@localhost:5672/", the URL of RabbitMQ's tutorials), the
// vhost is the default "/", as most clients read it; RabbitMQ's URI
// specification would make the bare "/" the empty vhost, which a broker does
// not have. The vhost "/" may also be written %2F. (A URI value with Vhost ""
// can still be dialled with DialURI.)
// User name, password and vhost are percent-decoded; a '/', '?', '#' or '@' in
// them must be percent-encoded. IPv6 addresses go in brackets.
//
// Errors wrap ErrInvalidArgument and never contain the password.
func ParseURI(s string) (URI, error) {
	u := URI{Host: "localhost", Username: "guest", Password: "guest", Vhost: "/"}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return URI{}, uriError("contains a control character")
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return URI{}, uriError("must start with amqp:// or amqps://")
	}
	switch strings.ToLower(scheme) {
	case "amqp":
		u.Port = 5672
	case "amqps":
		u.Port, u.TLS = 5671, true
	default:
		if !isToken(scheme) {
			return URI{}, uriError("must start with amqp:// or amqps://")
		}
		return URI{}, uriError("unsupported scheme %s (want amqp or amqps)", quote(scheme))
	}
	// Refuse a '#' or an '@' past the authority before splitting anything:
	// they are what an unencoded password leaves behind, and the rest of the
	// URI is then echoed in error messages.
	if strings.Contains(rest, "#") {
		return URI{}, uriError("'#' is not allowed; percent-encode it as %%23 (user name, password and vhost are percent-encoded)")
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if strings.Contains(tail, "@") {
		return URI{}, errUserinfo
	}
	if err := u.parseAuthority(authority); err != nil {
		return URI{}, err
	}
	path, query, _ := strings.Cut(tail, "?")
	if err := u.parseVhost(path); err != nil {
		return URI{}, err
	}
	if err := u.parseQuery(query); err != nil {
		return URI{}, err
	}
	return u, nil
}

var errUserinfo = uriError("'@' must separate the user info from the host only; " +
	"percent-encode '@', '/', '?' and '#' in user names and passwords (%%40, %%2F, %%3F, %%23)")

func (u *URI) parseAuthority(authority string) error {
	hostport := authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		userinfo := authority[:at]
		hostport = authority[at+1:]
		if strings.Contains(userinfo, "@") {
			return errUserinfo
		}
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if u.Username, err = url.PathUnescape(user); err != nil {
			return uriError("the user name is not properly percent-encoded")
		}
		if hasPass {
			if u.Password, err = url.PathUnescape(pass); err != nil {
				return uriError("the password is not properly percent-encoded")
			}
		}
	}

	var host, port string
	var hasPort bool
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return uriError("missing ']' after the IPv6 address")
		}
		h, err := url.PathUnescape(hostport[1:end])
		if err != nil {
			return uriError("the IPv6 address is not properly percent-encoded")
		}
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return uriError("the host in brackets is not an IPv6 address")
		}
		u.Host = h
		if after := hostport[end+1:]; after != "" {
			if after[0] != ':' {
				return uriError("unexpected text after the IPv6 address")
			}
			port, hasPort = after[1:], true
		}
	} else {
		host, port, hasPort = strings.Cut(hostport, ":")
		if strings.Contains(port, ":") {
			return uriError("an IPv6 address must be written in brackets, as in amqp://[::1]:5672")
		}
		h, err := url.PathUnescape(host)
		if err != nil {
			return uriError("the host is not properly percent-encoded")
		}
		for i := 0; i < len(h); i++ {
			if c := h[i]; c < 0x80 && !isUnreserved(c) {
				return uriError("the host name contains a character not allowed in host names")
			}
		}
		if h != "" {
			u.Host = h
		}
	}
	if hasPort && port != "" {
		// The port is not echoed: "amqp://user:password" (no host) puts the
		// password there.
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return uriError("the port must be a number from 1 to 65535")
		}
		u.Port = int(n)
	}
	return nil
}

func (u *URI) parseVhost(path string) error {
	switch path {
	case "", "/":
		return nil // the default vhost "/"
	}
	raw := path[1:]
	if strings.Contains(raw, "/") {
		return uriError("the vhost contains a '/'; percent-encode it as %%2F (the vhost \"/\" is written /%%2F)")
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		return uriError("the vhost is not properly percent-encoded")
	}
	if len(v) > 255 {
		return uriError("the vhost is longer than 255 bytes")
	}
	u.Vhost = v
	return nil
}

// uriParams lists the query parameters ParseURI knows, in String's order.
const uriParams = "heartbeat, connection_timeout, channel_max, frame_max, auth_mechanism, " +
	"cacertfile, certfile, keyfile, server_name_indication, verify, recovery"

func (u *URI) parseQuery(query string) error {
	seen := map[string]bool{}
	for part := range strings.SplitSeq(query, "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return uriError("a query parameter name is not properly percent-encoded")
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return uriError("query parameter %s: the value is not properly percent-encoded", quote(key))
		}
		if seen[key] && key != "auth_mechanism" {
			return uriError("query parameter %s is given twice", quote(key))
		}
		seen[key] = true
		switch key {
		case "heartbeat":
			n, err := strconv.ParseUint(val, 10, 16)
			if err != nil {
				return badParam(key, val, "a number of seconds from 0 to 65535")
			}
			u.Heartbeat = time.Duration(n) * time.Second
			if n == 0 {
				u.Heartbeat = NoHeartbeat
			}
		case "connection_timeout":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil || n > math.MaxInt64/uint64(time.Millisecond) {
				return badParam(key, val, "a number of milliseconds")
			}
			u.ConnectionTimeout = time.Duration(n) * time.Millisecond
		case "channel_max":
			n, err := strconv.ParseUint(val, 10, 16)
			if err != nil {
				return badParam(key, val, "a number from 0 to 65535")
			}
			u.ChannelMax = uint16(n)
		case "frame_max":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil || (n != 0 && n < 4096) {
				return badParam(key, val, "0 or a number of bytes from 4096 to 4294967295")
			}
			u.FrameMax = uint32(n)
		case "auth_mechanism":
			m := strings.ToUpper(val)
			if m != "PLAIN" && m != "AMQPLAIN" && m != "EXTERNAL" {
				return badParam(key, val, "plain, amqplain or external")
			}
			u.AuthMechanisms = append(u.AuthMechanisms, m)
		case "cacertfile":
			u.CACertFile = val
		case "certfile":
			u.CertFile = val
		case "keyfile":
			u.KeyFile = val
		case "server_name_indication":
			u.ServerName = val
		case "verify":
			switch val {
			case "verify_peer":
				u.InsecureSkipVerify = false
			case "verify_none":
				u.InsecureSkipVerify = true
			default:
				return badParam(key, val, "verify_peer or verify_none")
			}
		case "recovery":
			switch strings.ToLower(val) {
			case "true", "1":
				u.Recovery = true
			case "false", "0":
				u.Recovery = false
			default:
				return badParam(key, val, "true or false")
			}
		default:
			return uriError("unknown query parameter %s (known: %s)", quote(key), uriParams)
		}
	}
	return nil
}

// GoString is the %#v form of the URI, with the password replaced by
// "xxxxx" (an empty password stays empty), so that no debug print shows it.
func (u URI) GoString() string {
	if u.Password != "" {
		u.Password = redactedPassword
	}
	type uri URI // the same fields, without this method
	return "amqp.URI" + strings.TrimPrefix(fmt.Sprintf("%#v", uri(u)), "amqp.uri")
}

// String returns the URI in canonical form with the password replaced by
// "xxxxx" (an empty password stays empty). Every query parameter that is set
// is included; ParseURI reads the result back to the same URI, password
// aside (and but for the empty vhost, which a URL cannot express: it shows as
// a bare "/").
func (u URI) String() string {
	var b strings.Builder
	b.WriteString("amqp")
	if u.TLS {
		b.WriteByte('s')
	}
	b.WriteString("://")
	b.WriteString(escape(u.Username, isUnreserved))
	b.WriteByte(':')
	if u.Password != "" {
		b.WriteString(redactedPassword)
	}
	b.WriteByte('@')
	if strings.Contains(u.Host, ":") {
		b.WriteString("[" + escape(u.Host, func(c byte) bool { return c == ':' || isUnreserved(c) }) + "]")
	} else {
		b.WriteString(escape(u.Host, isUnreserved))
	}
	if u.Port != 0 {
		b.WriteString(":" + strconv.Itoa(u.Port))
	}
	b.WriteString("/" + escape(u.Vhost, isUnreserved))

	sep := "?"
	add := func(key, val string) {
		b.WriteString(sep + key + "=" + escape(val, func(c byte) bool { return c == '/' || c == ':' || isUnreserved(c) }))
		sep = "&"
	}
	switch {
	case u.Heartbeat < 0:
		add("heartbeat", "0")
	case u.Heartbeat > 0:
		add("heartbeat", strconv.FormatInt(int64(ceilDiv(u.Heartbeat, time.Second)), 10))
	}
	if u.ConnectionTimeout > 0 {
		add("connection_timeout", strconv.FormatInt(int64(ceilDiv(u.ConnectionTimeout, time.Millisecond)), 10))
	}
	if u.ChannelMax != 0 {
		add("channel_max", strconv.Itoa(int(u.ChannelMax)))
	}
	if u.FrameMax != 0 {
		add("frame_max", strconv.FormatUint(uint64(u.FrameMax), 10))
	}
	for _, m := range u.AuthMechanisms {
		add("auth_mechanism", strings.ToLower(m))
	}
	for _, p := range [...]struct{ key, val string }{
		{"cacertfile", u.CACertFile}, {"certfile", u.CertFile}, {"keyfile", u.KeyFile},
		{"server_name_indication", u.ServerName},
	} {
		if p.val != "" {
			add(p.key, p.val)
		}
	}
	if u.InsecureSkipVerify {
		add("verify", "verify_none")
	}
	if u.Recovery {
		add("recovery", "true")
	}
	return b.String()
}

// Addr returns "host:port" for dialing, with IPv6 addresses in brackets. An
// empty Host means localhost and a zero Port the scheme's default.
func (u URI) Addr() string {
	host, port := u.Host, u.Port
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = 5672
		if u.TLS {
			port = 5671
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// TLSConfig builds the TLS settings an amqps URI asks for: ServerName from
// server_name_indication or else Host, RootCAs from cacertfile (the system
// pool when not given), the client certificate from certfile and keyfile, and
// InsecureSkipVerify from verify=verify_none. It returns nil, nil for a plain
// amqp URI. Errors name the file, never its contents.
func (u URI) TLSConfig() (*tls.Config, error) {
	if !u.TLS {
		return nil, nil
	}
	cfg := &tls.Config{
		ServerName:         u.ServerName,
		InsecureSkipVerify: u.InsecureSkipVerify,
		MinVersion:         tls.VersionTLS12,
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Host
	}
	if u.CACertFile != "" {
		pem, err := readFile("cacertfile", u.CACertFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, invalid("cacertfile %q: no PEM certificate found", u.CACertFile)
		}
		cfg.RootCAs = pool
	}
	if u.CertFile != "" || u.KeyFile != "" {
		if u.CertFile == "" || u.KeyFile == "" {
			return nil, invalid("certfile and keyfile must be given together")
		}
		certPEM, err := readFile("certfile", u.CertFile)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readFile("keyfile", u.KeyFile)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, invalid("certfile %q, keyfile %q: %v", u.CertFile, u.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readFile reads a TLS file named by a URI parameter. The error wraps both
// ErrInvalidArgument and the os error (so fs.ErrNotExist matches).
func readFile(param, name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, invalid("%s %q: %w", param, name, err)
	}
	return b, nil
}

func uriError(format string, args ...any) error {
	return invalid("URI: "+format, args...)
}

func badParam(key, val, want string) error {
	return uriError("query parameter %s: %s is not %s", key, quote(val), want)
}

// quote quotes a piece of the URI for an error message, cut to a sane length.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(s)
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return s != ""
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// escape percent-encodes every byte of s for which keep is false.
func escape(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; keep(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// ceilDiv divides rounding up, so that a positive duration never prints as 0.
func ceilDiv(d, unit time.Duration) time.Duration {
	q := d / unit
	if d%unit != 0 {
		q++
	}
	return q
}
