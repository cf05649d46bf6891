package amqplib

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// steps runs the handshake from connection.start to connection.open-ok.
func (h *handshake) steps(s *Steps) error {
	k := &h.c.proto.Known
	m, err := h.recv()
	if err != nil {
		return err
	}
	st, ok := m.(wire.Starting)
	if !ok {
		return h.unexpected(m)
	}
	start := st.StartInfo()
	// RabbitMQ honours the client's authentication_failure_close on 0-8
	// too, though its 0-8 capabilities table is empty.
	caps, _ := start.ServerProperties["capabilities"].(amqp.Table)
	serverCloses, _ := caps["authentication_failure_close"].(bool)
	product, _ := start.ServerProperties["product"].(string)
	clientCloses, _ := s.Capabilities["authentication_failure_close"].(bool)
	h.authCloses = clientCloses && (serverCloses || product == "RabbitMQ")
	mech, resp, err := h.login(start.Mechanisms, s.Mechanisms)
	if err != nil {
		return err
	}
	locale := h.locale(start.Locales)
	if err := h.send(s.StartOK(h.clientProperties(s.Capabilities), mech, resp, locale)); err != nil {
		return err
	}
	var tune wire.Tuning
	for tune == nil {
		if m, err = h.recv(); err != nil {
			return err
		}
		switch {
		case m.ID() == k.ConnectionSecure:
			// PLAIN and AMQPLAIN never get a challenge; answer with the same response.
			if err := h.send(s.SecureOK(resp)); err != nil {
				return err
			}
		default:
			if tune, ok = m.(wire.Tuning); !ok {
				return h.unexpected(m)
			}
		}
	}
	chMax, frMax, hb := h.negotiate(tune.TuneInfo())
	// tune-ok and open leave in one write: one segment, one read for the
	// broker.
	if err := h.send(s.TuneOK(chMax, frMax, hb), s.Open(h.URI.Vhost)); err != nil {
		return err
	}
	if m, err = h.recv(); err != nil {
		return err
	}
	if r, ok := m.(wire.Redirecting); ok {
		return &redirect{host: r.RedirectHost()}
	}
	if m.ID() != k.ConnectionOpenOK {
		return h.unexpected(m)
	}
	h.c.tuned = Tuned{
		ChannelMax: chMax, FrameMax: frMax, Heartbeat: time.Duration(hb) * time.Second,
		ServerProperties: start.ServerProperties, VersionMajor: start.VersionMajor, VersionMinor: start.VersionMinor,
		Mechanism: mech, Locale: locale,
	}
	return nil
}

// login picks the mechanism from the broker's space-separated list (in the
// order of Config.AuthMechanisms, the URI's auth_mechanism, else defaults)
// and builds its response.
func (h *handshake) login(offered string, defaults []string) (mechanism, response string, err error) {
	prefs := h.Config.AuthMechanisms
	if len(prefs) == 0 {
		prefs = h.URI.AuthMechanisms
	}
	if len(prefs) == 0 {
		prefs = defaults
	}
	have := strings.Fields(offered)
	for _, want := range prefs {
		for _, m := range have {
			if strings.EqualFold(m, want) {
				resp, err := authResponse(strings.ToUpper(want), h.URI.Username, h.URI.Password)
				return m, resp, err
			}
		}
	}
	return "", "", fmt.Errorf("%w: %w: the broker offers %q, the client supports %q", amqp.ErrHandshake, amqp.ErrUnsupported, offered, strings.Join(prefs, " "))
}

func authResponse(mech, user, pass string) (string, error) {
	switch mech {
	case "PLAIN":
		return "\x00" + user + "\x00" + pass, nil
	case "AMQPLAIN":
		// A field table without its length prefix, LOGIN then PASSWORD, as
		// long strings. Built by hand so the order is fixed.
		var e wire.Encoder
		e.ShortStr("LOGIN")
		e.Octet('S')
		e.LongStr(user)
		e.ShortStr("PASSWORD")
		e.Octet('S')
		e.LongStr(pass)
		if e.Err() != nil {
			return "", amqperr.Invalid("user name too long for AMQPLAIN")
		}
		return string(e.Buf), nil
	case "EXTERNAL":
		return "", nil
	}
	return "", fmt.Errorf("%w: authentication mechanism %q", amqp.ErrUnsupported, mech)
}

// locale picks the configured locale when offered, else en_US, else the
// broker's first.
func (h *handshake) locale(offered string) string {
	have := strings.Fields(offered)
	for _, want := range []string{h.Config.Locale, amqp.DefaultLocale} {
		for _, l := range have {
			if want != "" && l == want {
				return l
			}
		}
	}
	if len(have) > 0 {
		return have[0]
	}
	return amqp.DefaultLocale
}

// clientProperties builds the start-ok client properties with the dialect's
// capabilities, the connection name and the caller's extra properties.
func (h *handshake) clientProperties(capabilities amqp.Table) amqp.Table {
	t := amqp.Table{
		"product":     "amqplib-go",
		"version":     amqp.Version,
		"platform":    "Go " + runtime.Version(),
		"information": "https://github.com/amqplib-go/amqp",
	}
	if len(capabilities) > 0 {
		t["capabilities"] = capabilities
	}
	if h.Config.ConnectionName != "" {
		t["connection_name"] = h.Config.ConnectionName
	}
	for k, v := range h.Config.Properties {
		t[k] = v
	}
	return t
}

// defaultFrameMax is the frame size limit the client sets when neither side
// sets one (RabbitMQ's default).
const defaultFrameMax = 128 << 10

// negotiate combines the broker's tune proposal with the client's limits:
// for channel_max and frame_max the smaller non-zero value wins (0 means no
// limit; for frame_max two zeros give defaultFrameMax, so frames are always
// bounded); for the heartbeat 0 on one side yields the other's value, else
// the smaller, and NoHeartbeat turns it off.
func (h *handshake) negotiate(channelMax uint16, frameMax uint32, heartbeat uint16) (uint16, uint32, uint16) {
	pick := func(client, server uint64) uint64 {
		if client == 0 || (server != 0 && server < client) {
			return server
		}
		return client
	}
	wantCh := uint64(firstNonZero(uint64(h.Config.ChannelMax), uint64(h.URI.ChannelMax)))
	wantFr := uint64(firstNonZero(uint64(h.Config.FrameMax), uint64(h.URI.FrameMax)))
	ch := pick(wantCh, uint64(channelMax))
	if ch == 0 {
		ch = 65535
	}
	fr := pick(wantFr, uint64(frameMax))
	if fr == 0 {
		// Neither side sets a limit: choose ours, so that no frame header
		// can make the reader allocate more than this.
		fr = defaultFrameMax
	}
	if fr < wire.FrameMinSize {
		fr = wire.FrameMinSize
	}
	hb := h.Config.Heartbeat
	if hb == 0 {
		hb = h.URI.Heartbeat
	}
	var beat uint64
	switch {
	case hb < 0:
		beat = 0
	case hb == 0:
		beat = pick(uint64(amqp.DefaultHeartbeat/time.Second), uint64(heartbeat))
	default:
		secs := uint64((hb + time.Second - 1) / time.Second)
		beat = pick(secs, uint64(heartbeat))
	}
	if beat > 65535 {
		beat = 65535
	}
	return uint16(ch), uint32(fr), uint16(beat)
}

func firstNonZero(a, b uint64) uint64 {
	if a != 0 {
		return a
	}
	return b
}
