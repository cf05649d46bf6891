package amqplib

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// The topology a recovering session records and declares again.
//
// Invariants (this file owns them):
//
//   - Only calls that succeeded (or, with no-wait, were sent) are
//     recorded, as private copies of the method values they sent (tables
//     deep-copied), so one code path serves both protocols and nothing the
//     program changes afterwards changes what is declared again. A record's
//     method is never changed: replay sends a copy, with the record's
//     current queue name. A passive declare creates nothing, so it is not
//     recorded.
//   - Records are kept in declaration order per kind, and replayed
//     exchanges first, then queues, then bindings, so a binding's ends
//     exist when it is declared again. Declaring an entity again replaces
//     its record in place; a delete removes it with the bindings that
//     named it; an auto-delete queue whose last recorded consumer the
//     program cancelled, and an auto-delete exchange whose last recorded
//     binding from it went (with the bindings to and from it), are
//     forgotten as the broker forgets them.
//   - A server-named queue is declared again with an empty name; the new
//     name replaces the old one in the records and, through rewrite, in
//     every later method the program sends on the session's connections
//     (the queue field, and the routing key of a publish to the default
//     exchange). Old names map to the newest name, so a name from any
//     earlier connection keeps working.
//   - rewrite runs on every method a recovering session's connection
//     sends (callThen, Send, publishContent); it reads the rename map
//     without a lock (copy on write), and until a rename happens it is one
//     atomic load.
//   - Declarations are replayed before the on-connect hook, bindings after
//     it, so a binding may name what the hook declares.
//   - mu guards the records; it is never held while a frame is written or
//     a hook runs.
type topology struct {
	mu        sync.Mutex
	exchanges []*entity
	queues    []*entity
	bindings  []*entity
	renames   atomic.Pointer[map[string]string] // old queue name → newest; replaced, never changed
}

type entityKind uint8

const (
	kindExchange entityKind = iota
	kindQueue
	kindQueueBinding
	kindExchangeBinding
)

var kindNames = [...]string{"exchange", "queue", "queue binding", "exchange binding"}

// entity is one recorded declaration.
type entity struct {
	kind        entityKind
	name        string // exchange or queue; a binding's destination
	source, key string // bindings
	args        amqp.Table
	autoDelete  bool
	serverNamed bool
	m           wire.Method // sent again (its NoWait cleared)
	reply       wire.MethodID
}

func (e *entity) sameBinding(o *entity) bool {
	return e.kind == o.kind && e.name == o.name && e.source == o.source && e.key == o.key && reflect.DeepEqual(e.args, o.args)
}

// failure describes e for the program's hook.
func (e *entity) failure(err error) *amqp.TopologyError {
	return &amqp.TopologyError{Kind: kindNames[e.kind], Name: e.name, Source: e.source, Key: e.key, Err: err}
}

// field returns a generated method's field by name (invalid when absent).
func field(m wire.Method, name string) reflect.Value {
	return reflect.ValueOf(m).Elem().FieldByName(name)
}

func strField(m wire.Method, name string) string {
	if f := field(m, name); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

func boolField(m wire.Method, name string) bool {
	f := field(m, name)
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}

func tableField(m wire.Method, name string) amqp.Table {
	if f := field(m, name); f.IsValid() {
		t, _ := f.Interface().(amqp.Table)
		return t
	}
	return nil
}

func setField(m wire.Method, name string, v any) {
	if f := field(m, name); f.IsValid() && f.CanSet() && f.Type() == reflect.TypeOf(v) {
		f.Set(reflect.ValueOf(v))
	}
}

// observe records a call that succeeded; queue is the declared queue's
// name (the broker's, for a server-named one).
func (t *topology) observe(sent wire.Method, reply wire.MethodID, queue string) {
	switch sent.Name() {
	case "exchange.declare", "queue.declare", "queue.bind", "exchange.bind":
	case "queue.unbind", "exchange.unbind", "queue.delete", "exchange.delete":
	default:
		return
	}
	m := cloneMethod(sent)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch m.Name() {
	case "exchange.declare":
		if boolField(m, "Passive") {
			return
		}
		e := &entity{kind: kindExchange, name: strField(m, "Exchange"), autoDelete: boolField(m, "AutoDelete"), m: m, reply: reply}
		t.exchanges = upsert(t.exchanges, e, func(o *entity) bool { return o.name == e.name })
	case "queue.declare":
		if boolField(m, "Passive") || queue == "" {
			return
		}
		named := strField(m, "Queue")
		e := &entity{kind: kindQueue, name: queue, autoDelete: boolField(m, "AutoDelete"), serverNamed: named == "", m: m, reply: reply}
		t.queues = upsert(t.queues, e, func(o *entity) bool { return o.name == e.name })
	case "queue.bind", "exchange.bind":
		e := bindingOf(m)
		e.m, e.reply = m, reply
		t.bindings = upsert(t.bindings, e, e.sameBinding)
	case "queue.unbind", "exchange.unbind":
		e := bindingOf(m)
		t.bindings = slices.DeleteFunc(t.bindings, e.sameBinding)
		t.dropUnboundLocked(e.source)
	case "queue.delete":
		t.dropQueueLocked(strField(m, "Queue"))
	case "exchange.delete":
		t.dropExchangeLocked(strField(m, "Exchange"))
	}
}

// dropExchangeLocked forgets an exchange with the bindings from and to it,
// and then the auto-delete exchanges those bindings kept alive.
func (t *topology) dropExchangeLocked(name string) {
	t.exchanges = slices.DeleteFunc(t.exchanges, func(o *entity) bool { return o.name == name })
	var sources []string
	t.bindings = slices.DeleteFunc(t.bindings, func(o *entity) bool {
		if o.source == name || o.kind == kindExchangeBinding && o.name == name {
			sources = append(sources, o.source)
			return true
		}
		return false
	})
	for _, s := range sources {
		if s != name {
			t.dropUnboundLocked(s)
		}
	}
}

// bindingOf reads a bind or unbind method.
func bindingOf(m wire.Method) *entity {
	e := &entity{key: strField(m, "RoutingKey"), args: tableField(m, "Arguments")}
	if m.Name() == "queue.bind" || m.Name() == "queue.unbind" {
		e.kind, e.name, e.source = kindQueueBinding, strField(m, "Queue"), strField(m, "Exchange")
	} else {
		e.kind, e.name, e.source = kindExchangeBinding, strField(m, "Destination"), strField(m, "Source")
	}
	return e
}

func upsert(list []*entity, e *entity, same func(*entity) bool) []*entity {
	if i := slices.IndexFunc(list, same); i >= 0 {
		list[i] = e
		return list
	}
	return append(list, e)
}

// dropQueueLocked forgets a queue and its bindings.
func (t *topology) dropQueueLocked(name string) {
	t.queues = slices.DeleteFunc(t.queues, func(o *entity) bool { return o.name == name })
	var sources []string
	t.bindings = slices.DeleteFunc(t.bindings, func(o *entity) bool {
		if o.kind == kindQueueBinding && o.name == name {
			sources = append(sources, o.source)
			return true
		}
		return false
	})
	for _, s := range sources {
		t.dropUnboundLocked(s)
	}
}

// dropUnboundLocked forgets an auto-delete exchange left without a
// recorded binding from it: the broker deleted it.
func (t *topology) dropUnboundLocked(exchange string) {
	i := slices.IndexFunc(t.exchanges, func(o *entity) bool { return o.name == exchange })
	if i < 0 || !t.exchanges[i].autoDelete {
		return
	}
	if slices.ContainsFunc(t.bindings, func(o *entity) bool { return o.source == exchange }) {
		return
	}
	t.dropExchangeLocked(exchange) // the broker deleted it, and its bindings to others
}

// consumerGone forgets an auto-delete queue once its last consumer went
// (inUse reports whether another recorded consumer still reads it).
func (t *topology) consumerGone(queue string, inUse bool) {
	if inUse {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.IndexFunc(t.queues, func(o *entity) bool { return o.name == queue }); i >= 0 && t.queues[i].autoDelete {
		t.dropQueueLocked(queue)
	}
}

// rewrite maps, in a method about to be sent, old queue names to the
// newest: the queue field, and the routing key of a publish to the default
// exchange.
func (t *topology) rewrite(m wire.Method) {
	p := t.renames.Load()
	if p == nil {
		return
	}
	renames := *p
	v := reflect.ValueOf(m).Elem()
	if f := v.FieldByName("Queue"); f.IsValid() && f.Kind() == reflect.String {
		if n, ok := renames[f.String()]; ok {
			f.SetString(n)
		}
	}
	if m.Name() == "basic.publish" && v.FieldByName("Exchange").String() == "" {
		if f := v.FieldByName("RoutingKey"); f.IsValid() {
			if n, ok := renames[f.String()]; ok {
				f.SetString(n)
			}
		}
	}
}

// renamed records that a server-named queue got a new name.
func (t *topology) renamed(old, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := map[string]string{}
	if p := t.renames.Load(); p != nil {
		for k, v := range *p {
			if v == old {
				v = name
			}
			next[k] = v
		}
	}
	next[old] = name
	delete(next, name) // a name back in use is its own
	t.renames.Store(&next)
	for _, e := range t.queues {
		if e.name == old {
			e.name = name
		}
	}
	for _, e := range t.bindings {
		if e.kind == kindQueueBinding && e.name == old {
			e.name = name
		}
	}
}

// snapshot returns the records in replay order: declarations, then
// bindings.
func (t *topology) snapshot() (decls, bindings []*entity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Concat(t.exchanges, t.queues), slices.Clone(t.bindings)
}

// sending returns the method to send for e again: a copy, with its
// current queue name, waiting for its reply.
func (t *topology) sending(e *entity) wire.Method {
	t.mu.Lock()
	name := e.name
	t.mu.Unlock()
	m := cloneMethod(e.m)
	setField(m, "NoWait", false)
	switch {
	case e.kind == kindQueue && e.serverNamed:
		setField(m, "Queue", "")
	case e.kind == kindQueue, e.kind == kindQueueBinding:
		setField(m, "Queue", name)
	}
	return m
}

// forget removes one record (it could not be declared again).
func (t *topology) forget(e *entity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	drop := func(o *entity) bool { return o == e }
	t.exchanges = slices.DeleteFunc(t.exchanges, drop)
	t.queues = slices.DeleteFunc(t.queues, drop)
	t.bindings = slices.DeleteFunc(t.bindings, drop)
}

// rename is a server-named queue's new name.
type rename struct{ old, name string }

// replay declares ents again on conn, on a channel of its own. An entity
// the broker refuses with a channel error is forgotten and reported to
// failed, and replay goes on; a connection error ends it. An exclusive
// queue the broker still holds for the lost connection (405) is tried
// again, for up to the connection's timeout.
func (t *topology) replay(ctx context.Context, conn *Conn, ents []*entity, failed func(*amqp.TopologyError)) ([]rename, error) {
	if len(ents) == 0 {
		return nil, nil
	}
	var renames []rename
	var ch *Channel
	defer func() {
		if ch != nil && !ch.IsClosed() {
			_ = ch.Close(ctx, nil)
		}
	}()
	var lockedSince time.Time
	pause := 10 * time.Millisecond
	for i := 0; i < len(ents); i++ {
		e := ents[i]
		if ch == nil || ch.IsClosed() {
			var err error
			if ch, err = conn.open(ctx, 0, nil); err != nil {
				return nil, err
			}
		}
		m, err := ch.Call(ctx, t.sending(e), e.reply)
		var ae *amqp.Error
		if err == nil {
			lockedSince = time.Time{}
			if q, ok := m.(wire.QueueDeclared); ok && e.serverNamed && q.QueueInfo().Name != e.name {
				renames = append(renames, rename{e.name, q.QueueInfo().Name})
				t.renamed(e.name, q.QueueInfo().Name)
			}
			continue
		}
		if !errors.As(err, &ae) || ae.Hard() || conn.isDone() {
			return nil, err
		}
		if err := waitFreed(ctx, conn, ch); err != nil {
			return nil, err
		}
		if ae.Code == amqp.ResourceLocked {
			if lockedSince.IsZero() {
				lockedSince = time.Now()
			}
			if time.Since(lockedSince) < conn.timeout {
				// Held for the lost connection until the broker notices
				// that connection is gone.
				if err := pauseFor(ctx, pause); err != nil {
					return nil, err
				}
				pause = min(2*pause, 500*time.Millisecond)
				i--
				continue
			}
		}
		lockedSince = time.Time{}
		t.forget(e)
		conn.logf("recovery: %s %q could not be declared again, and is forgotten: %v", kindNames[e.kind], e.name, err)
		if failed != nil {
			failed(e.failure(err))
		}
	}
	return renames, nil
}

// waitFreed waits until the broker has freed a channel it closed (its
// close-ok is sent), bounded by the timeout and ctx: the connection is
// given up otherwise.
func waitFreed(ctx context.Context, conn *Conn, ch *Channel) error {
	t := time.NewTimer(conn.timeout)
	defer t.Stop()
	select {
	case <-ch.freed:
		return nil
	case <-conn.done:
		return &amqp.ClosedError{What: "connection", Reason: conn.Err()}
	case <-t.C:
		return fmt.Errorf("%w: channel %d was not freed within %s during the recovery", amqp.ErrTimeout, ch.id, conn.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pauseFor waits d, or until ctx ends.
func pauseFor(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cloneMethod returns a copy of a generated method, its tables deep-copied.
func cloneMethod(m wire.Method) wire.Method {
	v := reflect.ValueOf(m).Elem()
	c := reflect.New(v.Type())
	c.Elem().Set(v)
	for i := range c.Elem().NumField() {
		if f := c.Elem().Field(i); f.Type() == reflect.TypeOf(amqp.Table(nil)) && !f.IsNil() {
			f.Set(reflect.ValueOf(copyTable(f.Interface().(amqp.Table))))
		}
	}
	return c.Interface().(wire.Method)
}

func copyTable(t amqp.Table) amqp.Table {
	c := make(amqp.Table, len(t))
	for k, v := range t {
		c[k] = copyValue(v)
	}
	return c
}

func copyValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return copyTable(x)
	case []any:
		c := make([]any, len(x))
		for i, y := range x {
			c[i] = copyValue(y)
		}
		return c
	case []byte:
		return slices.Clone(x)
	}
	return v
}
