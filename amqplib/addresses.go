package amqplib

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// endpoints returns the URI's address followed by Config.Addresses as URIs
// (duplicates dropped), in shuffled order.
func endpoints(uri amqp.URI, extra []string) ([]amqp.URI, error) {
	out := []amqp.URI{uri}
	seen := map[string]bool{uri.Addr(): true}
	for _, a := range extra {
		host, port, err := splitHostPort(strings.TrimSpace(a), uri.Port)
		if err != nil || host == "" {
			return nil, amqperr.Invalid("Config.Addresses: %q is not host:port", a)
		}
		u := uri
		u.Host, u.Port = strings.Trim(host, "[]"), port
		if seen[u.Addr()] {
			continue
		}
		seen[u.Addr()] = true
		out = append(out, u)
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// final reports whether a dial error would be the same on every node of a
// cluster (a refused login or vhost) or ends the caller's wait.
func final(ctx context.Context, err error) bool {
	return errors.Is(err, amqp.ErrAuth) || errors.Is(err, amqp.ErrNotAllowed) ||
		errors.Is(err, amqp.ErrAccessRefused) || ctx.Err() != nil
}

// dialAny tries each endpoint once, in order, and returns the first
// connection that opens. One endpoint's error is returned as it is.
func dialAny(ctx context.Context, p *Protocol, eps []amqp.URI, cfg amqp.Config) (*Conn, error) {
	if len(eps) == 1 {
		return Dial(ctx, p, eps[0], cfg)
	}
	de := &amqp.DialError{}
	for _, u := range eps {
		c, err := Dial(ctx, p, u, cfg)
		if err == nil {
			return c, nil
		}
		if final(ctx, err) {
			return nil, err
		}
		de.Addrs = append(de.Addrs, u.Addr())
		de.Errs = append(de.Errs, err)
	}
	return nil, de
}
