package amqplib

import (
	"context"
	"errors"
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
//   - Only calls that succeeded are recorded, as the method values they
//     sent (one code path for both protocols); a passive declare asserts
//     and creates nothing, so it is not recorded.
//   - Records are kept in declaration order per kind, and replayed
//     exchanges first, then queues, then bindings, so a binding's ends
//     exist when it is declared again. Declaring an entity again replaces
//     its record in place; a delete removes it with the bindings that
//     named it; an auto-delete queue whose last recorded consumer the
//     program cancelled, and an auto-delete exchange whose last recorded
//     binding went, are forgotten as the broker forgets them.
//   - A server-named queue is declared again with an empty name; the new
//     name replaces the old one in the records and, through rewrite, in
//     every later method the program sends on the session's connections
//     (the queue field, and the routing key of a publish to the default
//     exchange). Old names map to the newest name, so a name from any
//     earlier connection keeps working.
//   - rewrite runs on every method a recovering session's connection
//     sends (callThen, Send, publishContent); until a rename happens it is
//     one atomic load.
//   - mu guards the records and the maps; it is never held while a frame
//     is written or a hook runs.
type topology struct {
	mu        sync.Mutex
	exchanges []*entity
	queues    []*entity
	bindings  []*entity
	renames   map[string]string // old queue name → newest
	tickets   map[uint16]uint16 // 0-8 ticket held by the program → the current one
	active    atomic.Bool       // renames or tickets hold something
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
func (t *topology) observe(m wire.Method, reply wire.MethodID, queue string) {
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
		name := strField(m, "Exchange")
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
	t.exchanges = slices.Delete(t.exchanges, i, i+1)
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

// newest returns the current name of a queue the program may know by an
// older one.
func (t *topology) newest(name string) string {
	if !t.active.Load() {
		return name
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

// rewrite maps, in a method about to be sent, old queue names to the newest
// and 0-8 tickets the program holds to the current ones.
func (t *topology) rewrite(m wire.Method) {
	if !t.active.Load() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v := reflect.ValueOf(m).Elem()
	if f := v.FieldByName("Queue"); f.IsValid() && f.Kind() == reflect.String {
		if n, ok := t.renames[f.String()]; ok {
			f.SetString(n)
		}
	}
	if m.Name() == "basic.publish" && v.FieldByName("Exchange").String() == "" {
		if f := v.FieldByName("RoutingKey"); f.IsValid() {
			if n, ok := t.renames[f.String()]; ok {
				f.SetString(n)
			}
		}
	}
	if f := v.FieldByName("Ticket"); f.IsValid() && f.Kind() == reflect.Uint16 {
		if n, ok := t.tickets[uint16(f.Uint())]; ok {
			f.SetUint(uint64(n))
		}
	}
}

// renamed records that a server-named queue got a new name.
func (t *topology) renamed(old, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renames == nil {
		t.renames = map[string]string{}
	}
	for k, v := range t.renames {
		if v == old {
			t.renames[k] = name
		}
	}
	t.renames[old] = name
	for _, e := range t.queues {
		if e.name == old {
			e.name = name
		}
	}
	for _, e := range t.bindings {
		if e.kind == kindQueueBinding && e.name == old {
			e.name = name
			setField(e.m, "Queue", name)
		}
	}
	t.active.Store(true)
}

// ticketChanged records that a ticket the program holds is now another.
func (t *topology) ticketChanged(old, now uint16) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tickets == nil {
		t.tickets = map[uint16]uint16{}
	}
	for k, v := range t.tickets {
		if v == old {
			t.tickets[k] = now
		}
	}
	t.tickets[old] = now
	t.active.Store(true)
}

// snapshot returns the records in replay order.
func (t *topology) snapshot() []*entity {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Concat(t.exchanges, t.queues, t.bindings)
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

// rename is a server-named queue's new name, reported after the recovery.
type rename struct{ old, name string }

// replay declares the records again on conn, on a channel of its own. An
// entity the broker refuses with a channel error is forgotten and reported
// to failed, and replay goes on; a connection error ends it.
func (t *topology) replay(ctx context.Context, conn *Conn, failed func(*amqp.TopologyError)) ([]rename, error) {
	ents := t.snapshot()
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
	started := time.Now()
	pause := 10 * time.Millisecond
	for i := 0; i < len(ents); i++ {
		e := ents[i]
		if ch == nil || ch.IsClosed() {
			var err error
			if ch, err = conn.open(ctx, 0, nil); err != nil {
				return nil, err
			}
		}
		setField(e.m, "NoWait", false)
		if e.serverNamed {
			setField(e.m, "Queue", "")
		}
		m, err := ch.Call(ctx, e.m, e.reply)
		var ae *amqp.Error
		if err == nil {
			if q, ok := m.(wire.QueueDeclared); ok && e.serverNamed && q.QueueInfo().Name != e.name {
				renames = append(renames, rename{e.name, q.QueueInfo().Name})
				t.renamed(e.name, q.QueueInfo().Name)
			}
			continue
		}
		if !errors.As(err, &ae) || ae.Hard() || conn.isDone() {
			return nil, err
		}
		select { // the broker closed the channel; its id is freed
		case <-ch.freed:
		case <-conn.done:
			return nil, err
		}
		if ae.Code == amqp.ResourceLocked && time.Since(started) < conn.timeout {
			// An exclusive queue the broker still holds for the lost
			// connection, until it notices that connection is gone.
			if err := pauseFor(ctx, pause); err != nil {
				return nil, err
			}
			pause = min(2*pause, 500*time.Millisecond)
			i--
			continue
		}
		t.forget(e)
		conn.logf("recovery: %s %q could not be declared again, and is forgotten: %v", kindNames[e.kind], e.name, err)
		if failed != nil {
			failed(e.failure(err))
		}
	}
	return renames, nil
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
