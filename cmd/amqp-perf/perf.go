package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/amqplib-go/amqp"
)

// producer and consumer state; counters are read by the monitor.
type producer struct {
	conn      io.Closer
	ch        channel
	sent      atomic.Int64
	confirmed atomic.Int64
	nacked    atomic.Int64
}

type consumer struct {
	conn     io.Closer
	ch       channel
	received atomic.Int64
	// used by the consumer's goroutine only
	hist    histogram
	lastTag uint64 // with multiple acks: the last delivery, and
	unacked int    // how many are not acknowledged yet
}

// totals sums the workers' counters.
type totals struct{ sent, received, confirmed, nacked int64 }

func sum(ps []*producer, cs []*consumer) totals {
	var t totals
	for _, p := range ps {
		t.sent += p.sent.Load()
		t.confirmed += p.confirmed.Load()
		t.nacked += p.nacked.Load()
	}
	for _, c := range cs {
		t.received += c.received.Load()
	}
	return t
}

// perf runs one test and prints live rates and the summary to out.
func perf(cfg config, out io.Writer) (err error) {
	epoch := time.Now() // bodies carry nanoseconds since epoch (monotonic)
	admConn, adm, err := dial(cfg, "amqp-perf")
	if err != nil {
		return err
	}
	defer admConn.Close()
	queue := cfg.queue
	if queue == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		queue = "amqp-perf-" + hex.EncodeToString(b[:])
		defer func() {
			if _, derr := adm.QueueDelete(queue); derr != nil && err == nil {
				err = fmt.Errorf("deleting queue %s: %w", queue, derr)
			}
		}()
	}
	if _, err := adm.QueueDeclare(queue); err != nil {
		return fmt.Errorf("declaring queue %s: %w", queue, err)
	}

	// Connect everyone before the clock starts; consumers first, so they
	// are listening when the first message arrives.
	var ps []*producer
	var cs []*consumer
	defer func() {
		for _, p := range ps {
			p.conn.Close()
		}
		for _, c := range cs {
			c.conn.Close()
		}
	}()
	for i := 0; i < cfg.consumers; i++ {
		conn, ch, err := dial(cfg, fmt.Sprintf("amqp-perf consumer %d", i+1))
		if err != nil {
			return err
		}
		cs = append(cs, &consumer{conn: conn, ch: ch})
		if cfg.qos > 0 {
			if err := ch.Qos(cfg.qos); err != nil {
				return err
			}
		}
	}
	for i := 0; i < cfg.producers; i++ {
		conn, ch, err := dial(cfg, fmt.Sprintf("amqp-perf producer %d", i+1))
		if err != nil {
			return err
		}
		p := &producer{conn: conn, ch: ch}
		ps = append(ps, p)
		if cfg.confirm {
			cf := ch.(confirmer)
			if err := cf.ConfirmSelect(); err != nil {
				return err
			}
			cf.OnConfirm(func(c amqp.Confirmation) {
				if c.Ack {
					p.confirmed.Add(1)
				} else {
					p.nacked.Add(1)
				}
			})
		}
	}

	what := fmt.Sprintf("%d producer(s), %d consumer(s), %d-byte messages", cfg.producers, cfg.consumers, cfg.size)
	if cfg.confirm {
		what += fmt.Sprintf(", confirms (max %d outstanding)", cfg.confirmMax)
	}
	if cfg.qos > 0 {
		what += fmt.Sprintf(", qos %d", cfg.qos)
	}
	fmt.Fprintf(out, "amqp-perf: AMQP %s, %s, queue %s\n", cfg.proto, what, queue)

	sig, stopSig := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	consumersCtx, stopConsumers := context.WithCancel(context.Background())
	defer stopConsumers()
	var stopProducers atomic.Bool
	errs := make(chan error, len(ps)+len(cs))
	var pwg, cwg sync.WaitGroup

	start := time.Now()
	for _, c := range cs {
		if err := c.start(cfg, queue, epoch); err != nil {
			return err
		}
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := c.run(consumersCtx, cfg); err != nil {
				errs <- err
			}
		}()
	}
	for _, p := range ps {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if err := p.run(cfg, queue, epoch, &stopProducers); err != nil {
				errs <- err
			}
		}()
	}
	producersDone := make(chan struct{})
	go func() { pwg.Wait(); close(producersDone) }()

	// The monitor: live rates every interval, and the end of the run.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var (
		runErr       error
		prev         totals
		prevAt       = start
		sendEnd      time.Time
		lastProgress = start
		lastReceived int64
	)
	stopAll := func() {
		stopProducers.Store(true)
		stopConsumers()
	}
loop:
	for {
		select {
		case <-sig.Done():
			fmt.Fprintln(out, "interrupted")
			stopAll()
			break loop
		case runErr = <-errs:
			stopAll()
			break loop
		case <-tick.C:
		}
		now := time.Now()
		t := sum(ps, cs)
		if now.Sub(prevAt) >= cfg.interval {
			secs := now.Sub(prevAt).Seconds()
			fmt.Fprintf(out, "time %6.1fs: sent %s msg/s, received %s msg/s, confirmed %s msg/s\n", now.Sub(start).Seconds(),
				rate(t.sent-prev.sent, secs), rate(t.received-prev.received, secs), rate(t.confirmed+t.nacked-prev.confirmed-prev.nacked, secs))
			prev, prevAt = t, now
		}
		if t.received != lastReceived {
			lastReceived, lastProgress = t.received, now
		}
		if cfg.duration > 0 && now.Sub(start) >= cfg.duration {
			stopAll()
			break
		}
		select {
		case <-producersDone:
		default:
			continue
		}
		if sendEnd.IsZero() {
			sendEnd = now
		}
		if len(cs) == 0 || t.received >= t.sent {
			stopAll()
			break
		}
		if cfg.count > 0 && now.Sub(lastProgress) >= cfg.drain && now.Sub(sendEnd) >= cfg.drain {
			fmt.Fprintf(out, "consumers got nothing for %s; %d message(s) missing\n", cfg.drain, t.sent-t.received)
			stopAll()
			break
		}
	}
	pwg.Wait()
	cwg.Wait()
	end := time.Now()
	if sendEnd.IsZero() {
		sendEnd = end
	}
	if runErr == nil {
		select {
		case runErr = <-errs:
		default:
		}
	}
	summarize(out, ps, cs, start, sendEnd, end)
	return runErr
}

func rate(n int64, secs float64) string {
	return fmt.Sprintf("%.0f", float64(n)/secs)
}

// summarize prints the totals, the average rates and latency percentiles.
func summarize(out io.Writer, ps []*producer, cs []*consumer, start, sendEnd, end time.Time) {
	t := sum(ps, cs)
	var h histogram
	for _, c := range cs {
		h.merge(&c.hist)
	}
	elapsed := end.Sub(start)
	fmt.Fprintf(out, "summary: sent %d, received %d, confirmed %d, nacked %d in %.2fs\n",
		t.sent, t.received, t.confirmed, t.nacked, elapsed.Seconds())
	sendSecs := max(sendEnd.Sub(start).Seconds(), 1e-9)
	fmt.Fprintf(out, "rates: sent %s msg/s, received %s msg/s, confirmed %s msg/s\n",
		rate(t.sent, sendSecs), rate(t.received, max(elapsed.Seconds(), 1e-9)), rate(t.confirmed, sendSecs))
	if h.n > 0 {
		fmt.Fprintf(out, "latency: p50 %s, p95 %s, p99 %s, max %s (%d messages)\n",
			ms(h.quantile(0.50)), ms(h.quantile(0.95)), ms(h.quantile(0.99)), ms(h.quantile(1)), h.n)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/1e6) }

// run publishes until stopped or count messages are sent; in confirm mode
// it keeps at most confirmMax messages unconfirmed and waits for the rest at
// the end.
func (p *producer) run(cfg config, queue string, epoch time.Time, stop *atomic.Bool) error {
	body := make([]byte, cfg.size)
	for i := 8; i < len(body); i++ {
		body[i] = byte('a' + i%26)
	}
	msg := amqp.Message{Body: body}
	var cf confirmer
	if cfg.confirm {
		cf = p.ch.(confirmer)
	}
	begin := time.Now()
	for i := 0; (cfg.count == 0 || i < cfg.count) && !stop.Load(); i++ {
		if cfg.rate > 0 {
			if d := time.Until(begin.Add(time.Duration(float64(i) / cfg.rate * 1e9))); d > 0 {
				time.Sleep(d)
			}
		}
		// The library copies small bodies before Publish returns (and
		// writes large ones before it returns), so the buffer is reused.
		binary.BigEndian.PutUint64(body, uint64(time.Since(epoch)))
		if err := p.ch.Publish("", queue, msg); err != nil {
			return fmt.Errorf("producer: %w", err)
		}
		p.sent.Add(1)
		if cf == nil {
			continue
		}
		for p.ch.Pending() > 0 { // confirms that arrived: dispatch without blocking
			if err := p.ch.Wait(); err != nil {
				return fmt.Errorf("producer: %w", err)
			}
		}
		for int64(cf.PublishSeq())-p.confirmed.Load()-p.nacked.Load() >= int64(cfg.confirmMax) && !stop.Load() {
			if err := p.ch.WaitTimeout(100 * time.Millisecond); err != nil && !errors.Is(err, amqp.ErrTimeout) {
				return fmt.Errorf("producer: %w", err)
			}
		}
	}
	if cf != nil {
		if err := cf.WaitConfirms(); err != nil && !errors.Is(err, amqp.ErrNacked) {
			return fmt.Errorf("producer: waiting for confirms: %w", err)
		}
		for p.ch.Pending() > 0 { // the OnConfirm callbacks of the last confirms
			if err := p.ch.Wait(); err != nil {
				return fmt.Errorf("producer: %w", err)
			}
		}
	}
	return nil
}

// start registers the consumer; deliveries are handled inside run's Wait.
func (c *consumer) start(cfg config, queue string, epoch time.Time) error {
	_, err := c.ch.Consume(queue, func(d *amqp.Delivery) {
		if len(d.Body) >= 8 {
			c.hist.record(time.Since(epoch) - time.Duration(binary.BigEndian.Uint64(d.Body)))
		}
		c.received.Add(1)
		if cfg.autoAck {
			return
		}
		if cfg.multiAck <= 1 {
			_ = c.ch.Ack(d.DeliveryTag)
			return
		}
		c.lastTag = d.DeliveryTag
		if c.unacked++; c.unacked >= cfg.multiAck {
			_ = c.ch.Ack(d.DeliveryTag, amqp.AckOptions{Multiple: true})
			c.unacked = 0
		}
	}, amqp.ConsumeOptions{NoAck: cfg.autoAck})
	return err
}

// run dispatches deliveries until ctx is cancelled, then acknowledges what
// a multiple-ack consumer still holds.
func (c *consumer) run(ctx context.Context, cfg config) error {
	for {
		err := c.ch.WaitContext(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() == nil {
			return fmt.Errorf("consumer: %w", err)
		}
		if c.unacked > 0 {
			_ = c.ch.Ack(c.lastTag, amqp.AckOptions{Multiple: true})
		}
		return nil
	}
}
