// Package amqplib is the version-independent engine shared by client08 and
// client091: dialing, frames, the shared reader, RPCs, content assembly,
// consumers, confirms, heartbeats, deadlines and closing.
//
// A dialect hands the engine a Protocol: its 8-byte header, its generated
// method decoder, the ids of the methods the engine must recognise, and its
// field-table policy. The dialect keeps its handshake and its typed API; all
// shared channel semantics live here once.
//
// Concurrency: one goroutine at a time reads the socket, routes every frame
// and never runs user code or blocks on a user. RPC replies go to a one-slot
// mailbox (RPCs on a channel are serialised); confirms are resolved as they
// are routed (confirms.go); deliveries, returns, cancels and the OnConfirm
// callbacks go to the channel's unbounded event queue, drained by Wait on
// the caller's goroutine, one callback at a time and never nested
// (events.go). Connection hooks run on one event goroutine.
//
// Who reads is the read turn (turn.go): a caller waiting for a reply or an
// event reads and routes frames itself while nobody else reads, so a round
// trip needs no goroutine hand-off; otherwise it waits for its mailbox as
// before. The connection's background reader goroutine reads whenever no
// caller does: when callers are left waiting, when something waits without
// reading (a channel's Close, a blocked publisher), and once the socket has
// been left unread for 10 ms. Each helper goroutine (the background reader,
// the flusher, the hook goroutine) starts when first needed, and
// heartbeats are a timer, so a short-lived connection starts none of them.
package amqplib
