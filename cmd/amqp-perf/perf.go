package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sum adds up the workers' counters.
func sum(ps []*producer, cs []*consumer) counts {
	var t counts
	for _, p := range ps {
		t.sent += p.sent.Load()
		t.confirmed += p.confirmed.Load()
		t.nacked += p.nacked.Load()
		t.returned += p.returned.Load()
	}
	for _, c := range cs {
		t.received += c.received.Load()
	}
	return t
}

// describe is the run's parameters in a line, for the header and the
// chart's title.
func describe(cfg config, t *topology) string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	var parts []string
	if cfg.id != "" {
		parts = append(parts, "id "+cfg.id)
	}
	parts = append(parts, "AMQP "+cfg.proto, plural(cfg.producers, "producer"), plural(cfg.consumers, "consumer"))
	add := func(cond bool, format string, args ...any) {
		if cond {
			parts = append(parts, fmt.Sprintf(format, args...))
		}
	}
	add(cfg.producers > 0, "%d B", cfg.size)
	add(cfg.rate > 0, "rate %g/s", cfg.rate)
	add(cfg.cRate > 0, "consumer rate %g/s", cfg.cRate)
	add(cfg.confirm > 0, "confirm %d", cfg.confirm)
	add(cfg.qos > 0, "qos %d", cfg.qos)
	add(cfg.multiAck > 1, "multi-ack %d", cfg.multiAck)
	add(cfg.autoAck, "autoack")
	add(cfg.persistent, "persistent")
	add(cfg.mandatory, "mandatory")
	add(cfg.queueType != "", "%s", cfg.queueType)
	add(cfg.exchange != "", "exchange %s (%s)", cfg.exchange, cfg.exType)
	if len(t.queues) == 1 {
		parts = append(parts, "queue "+t.queues[0])
	} else {
		parts = append(parts, fmt.Sprintf("%d queues %s..%s", len(t.queues), t.queues[0], t.queues[len(t.queues)-1]))
	}
	return strings.Join(parts, ", ")
}

// perf runs one test: it reports every interval and a summary to out (text
// or JSON lines), and notes to info (stderr with --json).
func perf(cfg config, out, stderr io.Writer) (err error) {
	info := out
	if cfg.json {
		info = stderr
	}
	rep, err := newReporter(cfg, out)
	if err != nil {
		return err
	}
	title, subtitle := "amqp-perf", ""
	defer func() {
		if cerr := rep.close(title, subtitle); err == nil {
			err = cerr
		}
	}()
	adm, ch, err := dial(cfg, "amqp-perf")
	if err != nil {
		return err
	}
	ch.Close()
	defer adm.Close()
	top, err := declare(cfg, adm, info)
	if err != nil {
		return err
	}
	defer func() {
		if derr := top.cleanup(cfg, adm, info); err == nil {
			err = derr
		}
	}()

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
		cn, ch, err := dial(cfg, fmt.Sprintf("amqp-perf consumer %d", i+1))
		if err != nil {
			return err
		}
		cs = append(cs, &consumer{conn: cn, ch: ch, queue: top.queues[i%len(top.queues)]})
		if cfg.qos > 0 {
			if err := ch.Qos(cfg.qos); err != nil {
				return opErr("basic.qos", err)
			}
		}
	}
	for i := 0; i < cfg.producers; i++ {
		cn, ch, err := dial(cfg, fmt.Sprintf("amqp-perf producer %d", i+1))
		if err != nil {
			return err
		}
		p := &producer{conn: cn, ch: ch}
		p.exchange, p.key = top.target(i)
		ps = append(ps, p)
		if err := p.setup(cfg); err != nil {
			return opErr("confirm.select", err)
		}
	}

	what := describe(cfg, top)
	title = "amqp-perf: " + what
	rep.params = paramsOf(cfg, top)
	until := "until Ctrl-C"
	switch {
	case cfg.duration > 0:
		until = "for " + cfg.duration.String()
	case cfg.pCount > 0 || cfg.cCount > 0:
		until = "until the message counts are reached"
	}
	fmt.Fprintf(info, "amqp-perf: %s; running %s\n", what, until)

	sig, stopSig := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	m := &monitor{cfg: cfg, top: top, ps: ps, cs: cs, rep: rep, info: info, sig: sig.Done()}
	startedAt, runErr := m.run()
	subtitle = fmt.Sprintf("started %s; %s", startedAt.Format("2006-01-02 15:04:05 MST"), m.result)
	return runErr
}

// paramsOf lists the parameters for the JSON summary.
func paramsOf(cfg config, t *topology) params {
	p := params{ID: cfg.id, Protocol: cfg.proto, Producers: cfg.producers, Consumers: cfg.consumers, Size: cfg.size,
		Confirm: cfg.confirm, MultiAck: cfg.multiAck, AutoAck: cfg.autoAck, Qos: cfg.qos, Rate: cfg.rate,
		ConsumerRate: cfg.cRate, Persistent: cfg.persistent, Mandatory: cfg.mandatory, Exchange: cfg.exchange,
		Queues: t.queues, Time: cfg.duration.Seconds(), PMessages: cfg.pCount, CMessages: cfg.cCount}
	if len(cfg.queueArgs) > 0 {
		p.QueueArgs = map[string]any(cfg.queueArgs)
	}
	return p
}

// monitor starts the workers, reports every interval and decides when the
// run ends.
type monitor struct {
	cfg    config
	top    *topology
	ps     []*producer
	cs     []*consumer
	rep    *reporter
	info   io.Writer
	sig    <-chan struct{}
	result string // the summary in a line, for the chart

	total         histogram // latency over the whole run
	interval      histogram
	prev          counts
	start, prevAt time.Time
}

// collect takes the latency samples of every consumer since the last call.
func (m *monitor) collect() {
	for _, c := range m.cs {
		h := c.swap()
		m.interval.merge(h)
		c.giveBack(h)
	}
}

// report writes the interval that ends now.
func (m *monitor) report(now time.Time) error {
	m.collect()
	t := sum(m.ps, m.cs)
	s := sample{at: now.Sub(m.start), dur: now.Sub(m.prevAt), n: t.minus(m.prev), lat: latencyOf(&m.interval)}
	m.total.merge(&m.interval)
	m.interval = histogram{}
	m.prev, m.prevAt = t, now
	return m.rep.write(s)
}

func (m *monitor) run() (time.Time, error) {
	cfg := m.cfg
	stopProducers := make(chan struct{})
	consumersCtx, stopConsumers := context.WithCancel(context.Background())
	defer stopConsumers()
	var once sync.Once
	stopAll := func() {
		once.Do(func() { close(stopProducers) })
		stopConsumers()
	}
	defer stopAll()
	errs := make(chan error, len(m.ps)+len(m.cs))
	var pwg, cwg sync.WaitGroup
	for _, c := range m.cs {
		if err := c.start(cfg, consumersCtx.Done()); err != nil {
			return time.Now(), err
		}
	}
	m.start = time.Now()
	m.prevAt = m.start
	for _, c := range m.cs {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			if err := c.run(consumersCtx, cfg); err != nil {
				errs <- err
			}
		}()
	}
	for _, p := range m.ps {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			if err := p.run(cfg, stopProducers); err != nil {
				errs <- err
			}
		}()
	}
	producersDone := make(chan struct{})
	go func() { pwg.Wait(); close(producersDone) }()

	tick := time.NewTicker(min(10*time.Millisecond, cfg.interval))
	defer tick.Stop()
	var (
		runErr       error
		sendEnd      time.Time
		lastProgress = m.start
		lastReceived int64
		atDeadline   bool
	)
loop:
	for {
		select {
		case <-m.sig:
			fmt.Fprintln(m.info, "amqp-perf: interrupted")
			break loop
		case runErr = <-errs:
			break loop
		case <-tick.C:
		}
		now := time.Now()
		if now.Sub(m.prevAt) >= cfg.interval {
			if err := m.report(now); err != nil {
				runErr = err
				break
			}
		}
		t := sum(m.ps, m.cs)
		if t.received != lastReceived {
			lastReceived, lastProgress = t.received, now
		}
		if cfg.duration > 0 && now.Sub(m.start) >= cfg.duration {
			// The last interval ends at the deadline; stopping the
			// workers counts in the summary only.
			if now.Sub(m.prevAt) >= cfg.interval/10 {
				if err := m.report(now); err != nil {
					runErr = err
				}
			}
			atDeadline = true
			break
		}
		if cfg.cCount > 0 && len(m.cs) > 0 && m.consumersDone() {
			break
		}
		if len(m.ps) == 0 {
			continue // consumer-only: until -z, -D or Ctrl-C
		}
		select {
		case <-producersDone:
		default:
			continue
		}
		if sendEnd.IsZero() {
			sendEnd = now
		}
		if len(m.cs) == 0 {
			break
		}
		if cfg.cCount == 0 && m.top.copies > 0 && t.received >= (t.sent-t.returned)*int64(m.top.copies) {
			break
		}
		if now.Sub(lastProgress) >= cfg.drain && now.Sub(sendEnd) >= cfg.drain {
			fmt.Fprintf(m.info, "amqp-perf: consumers got nothing for %s; stopping\n", cfg.drain)
			break
		}
	}
	stopAll()
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
	// The last, shorter interval, unless it is a sliver.
	if !atDeadline && end.Sub(m.prevAt) >= cfg.interval/10 {
		if err := m.report(end); err != nil && runErr == nil {
			runErr = err
		}
	} else {
		m.collect()
		m.total.merge(&m.interval)
	}
	t := sum(m.ps, m.cs)
	s := sample{summary: true, at: end.Sub(m.start), dur: end.Sub(m.start), n: t, lat: latencyOf(&m.total)}
	if len(m.ps) > 0 {
		s.sendDur = sendEnd.Sub(m.start)
	}
	if err := m.rep.write(s); err != nil && runErr == nil {
		runErr = err
	}
	rec := toRecord(s)
	m.result = fmt.Sprintf("%.1f s: sent %d (%.0f msg/s), received %d (%.0f msg/s)", s.dur.Seconds(), t.sent, rec.SentRate, t.received, rec.ReceivedRate)
	if s.lat.n > 0 {
		m.result += fmt.Sprintf(", median latency %s", fmtDuration(s.lat.p50))
	}
	return m.start, runErr
}

func (m *monitor) consumersDone() bool {
	for _, c := range m.cs {
		if !c.done.Load() {
			return false
		}
	}
	return true
}

// fmtDuration prints a latency with a unit that suits it.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}
