// Package chaos_test runs publishers and a consumer against the local
// three-node cluster (scripts/cluster.sh) while it injects faults on the
// nodes the clients use, and checks that no confirmed message is missing.
//
//	go test ./internal/chaos                           # the short run of make test: each fault once
//	go test ./internal/chaos -timeout 0 -args -chaos.duration=10m   # make chaos
package chaos_test

import (
	"flag"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cluster"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

var duration = flag.Duration("chaos.duration", 0, "repeat the fault schedule for this long (0: each fault once)")

// fault is one kind of fault on node n; it returns once the fault is in
// place. heal undoes it (nil: nothing to undo).
type fault struct {
	name   string
	quorum bool // only where the queue is a quorum queue (0-9-1)
	inject func(r *run, n int) (heal func())
}

var faults = []fault{
	{name: "close_connection", inject: func(r *run, n int) func() { r.c.CloseConns(n); return nil }},
	{name: "stop_app", inject: func(r *run, n int) func() { r.c.StopApp(n); return func() { r.c.StartApp(n) } }},
	{name: "kill -9", inject: func(r *run, n int) func() { r.c.Kill(n); return func() { r.c.Restart(n) } }},
	{name: "freeze", inject: func(r *run, n int) func() { r.c.Freeze(n); return func() { r.c.Thaw(n) } }},
	{name: "black hole", inject: func(r *run, n int) func() {
		r.proxies[n].BlackHole()
		return func() { r.proxies[n].Pass() }
	}},
	{name: "kill the leader", quorum: true, inject: func(r *run, _ int) func() {
		n := r.c.Leader(r.queue)
		if n == 0 {
			r.t.Fatalf("no leader found for %s", r.queue)
		}
		r.c.Kill(n)
		return func() { r.c.Restart(n) }
	}},
}

// TestChaos091: per-message and streaming publishers to a quorum queue and
// a consumer with manual acks, each on its own connection with all three
// addresses, through faults on the publisher's node.
func TestChaos091(t *testing.T) { chaos(t, proto091) }

// TestChaos08: a publisher with a transaction per message to a classic
// durable queue on node 1 and a consumer, connected to nodes 2 and 3,
// through faults on the publisher's node (AMQP 0-8 has no quorum queues).
func TestChaos08(t *testing.T) { chaos(t, proto08) }

func chaos(t *testing.T, p protocol) {
	c := cluster.Start(t)
	g0, f0 := runtime.NumGoroutine(), testbroker.OpenFDs(t)
	r := &run{t: t, c: c, proto: p, queue: testbroker.Name(t, "chaos-"+p.name), proxies: map[int]*faultproxy.Proxy{}, times: map[string][]time.Duration{}}
	for n := 1; n <= cluster.Nodes; n++ {
		r.proxies[n] = faultproxy.New(t, c.Addr(n))
	}
	r.start()
	deadline := time.Now().Add(*duration)
	for round := 0; round == 0 || time.Now().Before(deadline); round++ {
		for _, f := range faults {
			if f.quorum && !p.quorum {
				continue
			}
			r.inject(f, round)
		}
	}
	t.Logf("%s: faults done; stopping the publishers", time.Now().Format("15:04:05.000"))
	r.stop()
	t.Logf("%s: publishers stopped; checking", time.Now().Format("15:04:05.000"))
	lost, dups := r.check()
	t.Logf("%s: checked", time.Now().Format("15:04:05.000"))
	for _, f := range faults {
		if ts := r.times[f.name]; len(ts) > 0 {
			slices.Sort(ts)
			t.Logf("chaos %s %-16s fault to next confirmed publish: min %s, median %s, max %s (%d faults)",
				p.name, f.name, ts[0].Round(time.Millisecond), ts[len(ts)/2].Round(time.Millisecond), ts[len(ts)-1].Round(time.Millisecond), len(ts))
		}
	}
	t.Logf("chaos %s: %d confirmed, %d lost, %d duplicates delivered; %d nacks, %d confirm waits ended at their bound (%d streaming publishes in those batches, not counted)",
		p.name, r.confirmedCount(), lost, dups, r.nacks, r.timeouts, r.unconfirmed)
	require.Zero(t, lost, "confirmed messages missing")
	for _, px := range r.proxies {
		require.NoError(t, px.Close())
	}
	testbroker.Settles(t, g0, f0, 20*time.Second)
}

// inject puts f on the node a client is on: the per-message publisher's
// in round 0 (and every other round), else another client's in turn. It
// measures the time from the fault to the per-message publisher's next
// confirmed publish (when the fault was on its node), and heals.
func (r *run) inject(f fault, round int) {
	t := r.t
	target, who, measured := r.pub, "the per-message publisher", true
	if round%2 == 1 && len(r.others) > 0 {
		target, who, measured = r.others[(round/2)%len(r.others)], "another client", false
	}
	n := r.proxyNode(target.RemoteAddr())
	if n == 0 {
		t.Fatalf("%s is on %s, no node of the cluster", who, target.RemoteAddr())
	}
	before := r.pubCount()
	begun := time.Now()
	t.Logf("%s: %s on node %d (%s's)", begun.Format("15:04:05.000"), f.name, n, who)
	heal := f.inject(r, n)
	// The fault took effect when its command returned, or when the
	// publisher saw it, if that came first (a broker closing connections
	// does so before rabbitmqctl returns).
	start := time.Now()
	r.mu.Lock()
	if r.downAt.After(begun) && r.downAt.Before(start) {
		start = r.downAt
	}
	r.mu.Unlock()
	at, ok := r.pubAfter(before, 2*time.Minute)
	if !ok {
		if heal != nil {
			heal()
		}
		t.Fatalf("%s on node %d: no confirmed publish within 2 minutes (errors: %v)", f.name, n, r.errors())
	}
	switch {
	case !measured:
	case at.After(start):
		r.times[f.name] = append(r.times[f.name], at.Sub(start))
	default: // confirmed while the fault's command ran, before it took effect
		at2, ok := r.pubAfter(r.pubCount(), 15*time.Second)
		if ok {
			r.times[f.name] = append(r.times[f.name], max(at2.Sub(start), 0))
		}
		if !ok {
			r.mu.Lock()
			nacks := r.nacks
			r.mu.Unlock()
			t.Logf("%s: not measured: no confirmed publish within 15 s after the one confirmed as the fault began (%d nacks so far; RabbitMQ 3.10 nacks a quorum queue's publishes from a new channel while the node of its old leader is down)", f.name, nacks)
		}
	}
	if heal != nil {
		h := time.Now()
		heal()
		t.Logf("%s on node %d: healed in %s", f.name, n, time.Since(h).Round(time.Millisecond))
	}
	// The next fault starts once this one's node serves again.
	r.pubAfter(r.pubCount(), 2*time.Minute)
	if errs := r.errors(); len(errs) > 0 {
		t.Fatalf("after %s: calls failed: %v", f.name, errs)
	}
}

// proxyNode returns the node behind a proxy address.
func (r *run) proxyNode(addr string) int {
	for n, p := range r.proxies {
		if p.Addr() == addr {
			return n
		}
	}
	return 0
}

// addrs returns the proxies' addresses for nodes ns.
func (r *run) addrs(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, r.proxies[n].Addr())
	}
	return out
}

// url returns the URL of the first of addrs, for a dial with the rest.
func url(addrs []string) string { return "amqp://guest:guest@" + addrs[0] }

// config is what every chaos client dials with.
func config(rest []string) amqp.Config {
	return amqp.Config{Timeout: 30 * time.Second, Heartbeat: time.Second, ConnectionTimeout: 2 * time.Second,
		Addresses: rest, Recovery: &amqp.Recovery{MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}}
}
