package amqplib

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/amqplib-go/amqp"
)

// The recovery itself (its invariants are at the top of session.go).

// recover dials again until a connection opens with every channel
// restored, or the give-up limit; it returns the error that ends the
// session, or nil once cur is the new connection.
func (s *Session) recover(cause error) error {
	s.mu.Lock()
	s.recovering = true
	s.signalLocked()
	down := s.rhooks.OnDisconnect
	s.mu.Unlock()
	if down != nil {
		down(cause)
	}
	started := time.Now()
	attempts := 0
	last := cause
	known := map[string]string{} // a renamed queue's newest name → the name the program knew before this recovery
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for round := 0; ; round++ {
		if d := s.rec.Backoff(round); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		eps := slices.Clone(s.dial.eps)
		rand.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
		if round == 0 && len(eps) > 1 {
			// The node just lost is tried last at first: it may be down,
			// frozen or cut off, and its dial would only time out.
			lost := s.Conn().addr
			slices.SortStableFunc(eps, func(a, b amqp.URI) int {
				return boolInt(a.Addr() == lost) - boolInt(b.Addr() == lost)
			})
		}
		for _, u := range eps {
			if ctx.Err() != nil {
				return last
			}
			if s.rec.MaxAttempts > 0 && attempts >= s.rec.MaxAttempts ||
				s.rec.GiveUpAfter > 0 && time.Since(started) >= s.rec.GiveUpAfter {
				return fmt.Errorf("%w: recovery gave up after %d attempts in %s: %w", amqp.ErrClosed, attempts, time.Since(started).Round(time.Millisecond), last)
			}
			attempts++
			s.mu.Lock()
			if s.hasSecret { // the program's newest secret (an OAuth 2 token)
				u.Password = s.secret
			}
			s.mu.Unlock()
			c, err := Dial(ctx, s.dial.proto, u, s.dial.cfg)
			if err == nil {
				c.rewrite = s.topo.rewrite
				err = s.restore(ctx, c, known)
				if err == nil {
					return nil
				}
				_ = c.Close(ctx, nil)
			}
			last = err
		}
	}
}

// restore brings back on c what the program had, in dependency order:
// the tracked channels open again with their ids (so nothing else takes
// them), the recorded exchanges and queues, the on-connect hook, the
// recorded bindings, then each channel's log (qos, modes, consumers). It
// then makes c current and wakes the waiting calls.
//
// known maps the newest name of each queue renamed during this recovery
// (by this attempt or a failed one) to the name the program knew; the
// renames are reported once the recovery succeeded.
func (s *Session) restore(ctx context.Context, c *Conn, known map[string]string) error {
	var failures []*amqp.TopologyError
	failed := func(e *amqp.TopologyError) { failures = append(failures, e) }
	rh := s.recoveryHooks()
	report := func() { // with no lock held, once the attempt is over
		if rh.OnTopologyError != nil {
			for _, e := range failures {
				rh.OnTopologyError(e)
			}
		}
		failures = nil
	}
	defer report()
	s.recording.Lock()
	locked := true
	defer func() {
		if locked {
			s.unlockRecording()
		}
	}()
	s.mu.Lock()
	chans := make([]*Chan, 0, len(s.chans))
	for _, ch := range s.chans {
		chans = append(chans, ch)
	}
	s.mu.Unlock()
	slices.SortFunc(chans, func(a, b *Chan) int { return int(a.id) - int(b.id) })
	fresh := make([]*link, len(chans))
	for i, sc := range chans {
		if !sc.Engine().lostWithConn() {
			s.untrack(sc) // closed by the broker or given up before: not restored
			continue
		}
		l, err := sc.openLink(ctx, c)
		if err != nil {
			return err
		}
		fresh[i] = l
	}
	decls, bindings := s.topo.snapshot()
	renames, err := s.topo.replay(ctx, c, decls, failed)
	for _, r := range renames {
		s.renameConsumers(r.old, r.name)
		orig, ok := known[r.old]
		if !ok {
			orig = r.old
		}
		delete(known, r.old)
		known[r.name] = orig
	}
	if err != nil {
		return err
	}
	if err := s.connected(ctx, c); err != nil {
		return err
	}
	if _, err := s.topo.replay(ctx, c, bindings, failed); err != nil {
		return err
	}
	for i, sc := range chans {
		if fresh[i] == nil {
			continue
		}
		if fresh[i], err = sc.restoreLog(ctx, c, fresh[i], failed); err != nil {
			return err
		}
		if err := sc.resend(ctx, sc.cur.Load(), fresh[i]); err != nil {
			return err
		}
	}
	s.mu.Lock()
	h := s.hooks // as they are now: one set during the recovery counts
	s.mu.Unlock()
	c.SetHooks(func(dst *Hooks) { *dst = h; dst.OnClose = nil })
	s.mu.Lock()
	if s.userClosed { // Close came meanwhile: it closed the old connection only
		s.mu.Unlock()
		return amqp.ErrClosed
	}
	var dropped []*Channel
	for i, sc := range chans {
		if fresh[i] == nil {
			continue
		}
		if s.chans[sc.id] != sc { // closed by the program meanwhile
			dropped = append(dropped, fresh[i].ch)
			continue
		}
		old := sc.cur.Load()
		sc.cur.Store(fresh[i])
		old.pmu.Lock()
		old.kept = nil // republished on fresh[i], which keeps its own copies
		old.pmu.Unlock()
	}
	s.cur.Store(c)
	s.recovering = false
	s.signalLocked()
	rh = s.rhooks
	s.mu.Unlock()
	s.unlockRecording()
	locked = false
	for _, ch := range dropped { // not under s.mu: this writes a frame
		ch.abandon(amqp.ErrClosed)
	}
	report()
	if rh.OnQueueRenamed != nil {
		for name, orig := range known {
			if name != orig {
				rh.OnQueueRenamed(orig, name)
			}
		}
	}
	if rh.OnRecovered != nil {
		rh.OnRecovered()
	}
	return nil
}

// connected runs the program's on-connect hook for c, with a view of c
// that no recovery follows: what the hook opens lives as long as c, and
// the hook runs again on the next connection.
func (s *Session) connected(ctx context.Context, c *Conn) error {
	fn := s.dial.onConnect
	if fn == nil {
		return nil
	}
	view := &Session{dial: s.dial, chans: map[uint16]*Chan{}}
	view.cur.Store(c)
	if err := fn(ConnCommon{s: view, ctx: ctx}); err != nil {
		return fmt.Errorf("amqp: the on-connect hook failed: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
