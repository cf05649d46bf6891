// Package faultproxy is a TCP proxy for tests that sits between a client and
// a broker and injects network faults: a black hole (the connection stays
// open but nothing flows), a reset (RST), a cut after a number of bytes in
// either direction, and added latency. Faults can be switched at run time and
// apply to live connections as well as new ones.
//
//	p := faultproxy.New(t, "localhost:5672")
//	conn, err := client091.Dial(p.URL(brokerURL))
//	p.BlackHole()   // calls on conn now time out
//	p.Pass()        // held data flows again
//	p.Reset()       // every live connection gets an RST
//
// Each accepted connection is relayed by two pumps per direction (a reader
// and a writer joined by a small queue), so latency does not accumulate and
// a stalled peer stalls only its own direction.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Direction names one half of a relayed connection.
type Direction int

const (
	// Upstream is client to broker.
	Upstream Direction = iota
	// Downstream is broker to client.
	Downstream
)

// String names the direction.
func (d Direction) String() string {
	if d == Upstream {
		return "client->broker"
	}
	return "broker->client"
}

// Mode is what the proxy does with data.
type Mode int

const (
	// Pass forwards data (after the configured latency).
	Pass Mode = iota
	// BlackHole accepts connections and keeps them open but forwards nothing
	// in either direction: the data waits, as on a stalled network, and
	// flows again when the mode goes back to Pass.
	BlackHole
	// Reset closes new connections with an RST as soon as they are accepted
	// (Proxy.Reset also resets the live ones).
	Reset
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case BlackHole:
		return "black-hole"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Cut describes a cut: after N more bytes in Dir the connection is closed in
// both directions, with an RST when Reset is set (else a normal close).
// Exactly N bytes are forwarded in Dir; from the moment the cut is decided
// nothing more is forwarded in the other direction either.
type Cut struct {
	Dir   Direction
	N     int64
	Reset bool
}

// Proxy is a fault-injecting TCP proxy. Its methods are safe for concurrent
// use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    Mode
	latency time.Duration
	cuts    []Cut // applied to new connections, counted from their first byte
	changed chan struct{}
	links   map[*link]struct{}
	closed  bool
	tap     func(dir Direction, b []byte)

	accepted atomic.Int64
	bytes    [2]atomic.Int64
	wg       sync.WaitGroup
}

// Start listens on 127.0.0.1 (a free port) and relays every connection to
// target ("host:port").
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, changed: make(chan struct{}), links: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// TB is the part of testing.TB New needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// New starts a proxy to target and closes it when the test ends.
func New(t TB, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Addr returns the proxy's address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns the AMQP URL u with its host and port replaced by the
// proxy's, keeping the user info, vhost and query.
func (p *Proxy) URL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		panic("faultproxy: bad URL") // the URL may hold a password: not shown
	}
	pu.Host = p.Addr()
	return pu.String()
}

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Forwarded returns how many bytes were handed to the destination socket in
// a direction, over all connections. Bytes are counted before they are
// written, so whatever a peer has received is already counted.
func (p *Proxy) Forwarded(dir Direction) int64 { return p.bytes[dir].Load() }

// Conns returns the number of live relayed connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetMode switches the mode for live and new connections. Switching to
// Reset also resets every live connection.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	p.mode = m
	p.signalLocked()
	p.mu.Unlock()
	if m == Reset {
		p.Reset()
	}
}

// Pass forwards data again and clears the cuts configured for new
// connections (cuts armed on live connections stay armed). Latency stays.
func (p *Proxy) Pass() {
	p.mu.Lock()
	p.cuts = nil
	p.mu.Unlock()
	p.SetMode(Pass)
}

// BlackHole stops forwarding on live and new connections without closing
// them.
func (p *Proxy) BlackHole() { p.SetMode(BlackHole) }

// Reset closes every live connection, on both sides, with an RST
// (SetLinger(0)). New connections are still accepted (unless the mode is
// Reset).
func (p *Proxy) Reset() {
	for _, l := range p.snapshot() {
		l.kill(true)
	}
}

// CloseAll closes every live connection on both sides normally (FIN).
func (p *Proxy) CloseAll() {
	for _, l := range p.snapshot() {
		l.kill(false)
	}
}

// CutAfter arms a cut: each live connection is cut after n more bytes in
// dir, and each new connection after its first n bytes in dir. reset picks
// an RST over a normal close. Pass clears the cut for new connections.
func (p *Proxy) CutAfter(dir Direction, n int64, reset bool) {
	c := Cut{Dir: dir, N: n, Reset: reset}
	p.mu.Lock()
	p.cuts = append(p.cuts, c)
	links := p.snapshotLocked()
	p.mu.Unlock()
	for _, l := range links {
		l.arm(c, false)
	}
}

// SetLatency delays every chunk of data by d in both directions, for live and
// new connections (0: none). Data read before the change keeps its old delay.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.signalLocked()
	p.mu.Unlock()
}

// Tap sets a function that sees every chunk forwarded, in order per
// direction, on the goroutine that forwards it (nil: none). It must not keep
// b.
func (p *Proxy) Tap(fn func(dir Direction, b []byte)) {
	p.mu.Lock()
	p.tap = fn
	p.mu.Unlock()
}

// Close stops accepting, closes every connection and waits for the proxy's
// goroutines to end. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	p.signalLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.CloseAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) snapshot() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked()
}

func (p *Proxy) snapshotLocked() []*link {
	out := make([]*link, 0, len(p.links))
	for l := range p.links {
		out = append(out, l)
	}
	return out
}

// state returns what a pump needs to decide: whether data may flow, the
// latency, the tap, and a channel closed at the next change.
func (p *Proxy) state() (hold bool, latency time.Duration, tap func(Direction, []byte), changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode == BlackHole && !p.closed, p.latency, p.tap, p.changed
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: back off, do not spin
			continue
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	mode, closed := p.mode, p.closed
	p.mu.Unlock()
	if closed {
		_ = client.Close()
		return
	}
	if mode == Reset {
		rst(client)
		return
	}
	broker, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		rst(client)
		return
	}
	l := &link{p: p, conns: [2]net.Conn{client, broker}, done: make(chan struct{}), limit: [2]int64{-1, -1}}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = client.Close()
		_ = broker.Close()
		return
	}
	p.links[l] = struct{}{}
	cuts := append([]Cut(nil), p.cuts...)
	p.mu.Unlock()
	for _, c := range cuts {
		l.arm(c, true)
	}
	var wg sync.WaitGroup
	for _, dir := range []Direction{Upstream, Downstream} {
		q := make(chan chunk, 16)
		wg.Add(2)
		go func() { defer wg.Done(); l.read(dir, q) }()
		go func() { defer wg.Done(); l.write(dir, q) }()
	}
	wg.Wait()
	l.kill(false)
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// rst closes a connection with an RST instead of a FIN.
func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// link is one relayed connection: conns[Upstream] is the client side (read
// for upstream data), conns[Downstream] the broker side.
type link struct {
	p     *Proxy
	conns [2]net.Conn

	mu    sync.Mutex
	fwd   [2]int64 // bytes forwarded per direction
	limit [2]int64 // absolute cut position per direction, -1 for none
	reset [2]bool  // the cut in that direction resets
	cut   bool     // a cut was decided: nothing more flows
	dead  bool
	done  chan struct{}
}

type chunk struct {
	b   []byte
	due time.Time
}

// src and dst are the sockets read and written for a direction.
func (l *link) src(dir Direction) net.Conn { return l.conns[dir] }
func (l *link) dst(dir Direction) net.Conn { return l.conns[1-dir] }

// arm sets a cut n bytes ahead (from the start for a new link); the
// earliest cut in a direction wins.
func (l *link) arm(c Cut, fromStart bool) {
	l.mu.Lock()
	at := l.fwd[c.Dir] + c.N
	if fromStart {
		at = c.N
	}
	if l.limit[c.Dir] < 0 || at < l.limit[c.Dir] {
		l.limit[c.Dir], l.reset[c.Dir] = at, c.Reset
	}
	zero := !l.cut && l.limit[c.Dir] <= l.fwd[c.Dir]
	if zero {
		l.cut = true
	}
	reset := l.reset[c.Dir]
	l.mu.Unlock()
	if zero { // nothing left to forward before the cut
		l.kill(reset)
	}
}

// kill closes both sides once; reset sends RSTs.
func (l *link) kill(reset bool) {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	l.dead, l.cut = true, true
	close(l.done)
	l.mu.Unlock()
	for _, c := range l.conns {
		if reset {
			rst(c)
		} else {
			_ = c.Close()
		}
	}
}

// read moves data from the source socket into q, stamped with its due time.
func (l *link) read(dir Direction, q chan<- chunk) {
	defer close(q)
	for {
		buf := make([]byte, 32<<10)
		n, err := l.src(dir).Read(buf)
		if n > 0 {
			_, latency, _, _ := l.p.state()
			select {
			case q <- chunk{b: buf[:n], due: time.Now().Add(latency)}:
			case <-l.done:
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Half-close: pass the FIN on once the queued data is out.
				return
			}
			l.kill(false)
			return
		}
	}
}

// write forwards chunks from q to the destination socket, honouring the
// latency, black holes and cuts.
func (l *link) write(dir Direction, q <-chan chunk) {
	for c := range q {
		if !l.wait(c.due) {
			return
		}
		b, last, reset, ok := l.admit(dir, c.b)
		if !ok {
			return
		}
		if len(b) > 0 {
			if _, _, tap, _ := l.p.state(); tap != nil {
				tap(dir, b)
			}
			// Counted before the write: a peer that has read the bytes
			// must find them counted.
			l.p.bytes[dir].Add(int64(len(b)))
			if _, err := l.dst(dir).Write(b); err != nil {
				l.kill(false)
				return
			}
		}
		if last {
			l.kill(reset)
			return
		}
	}
	// The source sent a FIN: pass it on, unless the link is being killed
	// (its reader then saw its socket closed, not a FIN).
	l.mu.Lock()
	dead := l.dead
	l.mu.Unlock()
	if dead {
		return
	}
	if tc, ok := l.dst(dir).(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		l.kill(false)
	}
}

// wait sleeps until due and while the proxy is a black hole; false when the
// link died meanwhile.
func (l *link) wait(due time.Time) bool {
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return false
		}
	}
	for {
		hold, _, _, changed := l.p.state()
		if !hold {
			break
		}
		select {
		case <-changed:
		case <-l.done:
			return false
		}
	}
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// admit decides how much of b may go out: all of it, a prefix up to an
// armed cut (last is then true), or nothing once a cut was decided.
func (l *link) admit(dir Direction, b []byte) (out []byte, last, reset, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut || l.dead {
		return nil, false, false, false
	}
	if lim := l.limit[dir]; lim >= 0 && l.fwd[dir]+int64(len(b)) >= lim {
		n := lim - l.fwd[dir]
		l.fwd[dir] = lim
		l.cut = true // before the write: the other direction stops now
		return b[:n], true, l.reset[dir], true
	}
	l.fwd[dir] += int64(len(b))
	return b, false, false, true
}
