// Package amqplib is the version-independent engine shared by client08 and
// client091: dialing, frames, the shared reader, RPCs, content assembly,
// consumers, confirms, heartbeats, deadlines and closing.
//
// A dialect hands the engine a Protocol: its 8-byte header, its generated
// method decoder, the ids of the methods the engine must recognise, and its
// field-table policy. The dialect keeps its handshake and its typed API; all
// shared channel semantics live here once.
//
// Concurrency: one goroutine at a time reads the socket and routes every
// frame; it never runs user code and never blocks on a user. Each rule has
// one file, which states its invariants at the top:
//
//   - turn.go: who reads. A caller waiting for a reply, an event or a
//     confirm reads and routes frames itself while nobody else reads (a
//     round trip needs no goroutine hand-off), otherwise it follows and
//     waits for whoever reads; the background reader (reader.go) reads when
//     callers are left waiting, when something waits without reading, and
//     once the socket has been left unread for 10 ms.
//   - router.go: where each frame goes.
//   - rpc.go: a synchronous method and its reply (one call per channel, a
//     one-slot mailbox, a reply nobody waits for is a protocol error).
//   - events.go: events and callbacks (an unbounded queue drained by Wait on
//     the caller's goroutine, one callback at a time, never nested).
//   - confirms.go: publisher confirms, resolved as they are routed; confirm
//     waits run no callbacks.
//   - unsolicited.go: methods the broker sends unasked (channel.flow,
//     channel.alert).
//   - closing.go: how channels and the connection end (ids kept until the
//     close handshake is over, one shutdown, bounded closes).
//   - writer.go: the writer (one pending buffer, the flusher for publishes).
//   - hooks.go: connection hooks, on one goroutine of their own.
//
// Each helper goroutine (the background reader, the flusher, the hook
// goroutine) starts when first needed and heartbeats are a timer, so a
// short-lived connection starts none of them.
package amqplib
