package wire

import (
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
)

// Property flag bits of the basic content header, identical in AMQP 0-8 and
// 0-9-1. Bit 0 is the continuation flag; bit 1 is unused.
const (
	FlagContentType     = 1 << 15
	FlagContentEncoding = 1 << 14
	FlagHeaders         = 1 << 13
	FlagDeliveryMode    = 1 << 12
	FlagPriority        = 1 << 11
	FlagCorrelationID   = 1 << 10
	FlagReplyTo         = 1 << 9
	FlagExpiration      = 1 << 8
	FlagMessageID       = 1 << 7
	FlagTimestamp       = 1 << 6
	FlagType            = 1 << 5
	FlagUserID          = 1 << 4
	FlagAppID           = 1 << 3
	FlagClusterID       = 1 << 2
	FlagContinuation    = 1 << 0
)

// PropertyFlags returns the property-flags word for p: one bit per non-zero
// field (bits 1 and 0 are always clear). A nil p has no properties.
func PropertyFlags(p *amqp.Properties) uint16 {
	if p == nil {
		return 0
	}
	var f uint16
	set := func(present bool, bit uint16) {
		if present {
			f |= bit
		}
	}
	set(p.ContentType != "", FlagContentType)
	set(p.ContentEncoding != "", FlagContentEncoding)
	set(p.Headers != nil, FlagHeaders)
	set(p.DeliveryMode != 0, FlagDeliveryMode)
	set(p.Priority != 0, FlagPriority)
	set(p.CorrelationID != "", FlagCorrelationID)
	set(p.ReplyTo != "", FlagReplyTo)
	set(p.Expiration != "", FlagExpiration)
	set(p.MessageID != "", FlagMessageID)
	set(!p.Timestamp.IsZero(), FlagTimestamp)
	set(p.Type != "", FlagType)
	set(p.UserID != "", FlagUserID)
	set(p.AppID != "", FlagAppID)
	set(p.ClusterID != "", FlagClusterID)
	return f
}

// ContentHeader appends a content-header payload: class id, weight 0, body
// size, property flags and the present properties in flag order.
//
// A property is present when its field is non-zero (see PropertyFlags); a nil
// p sends no properties. Timestamp is sent as whole seconds since the Unix
// epoch. Short-string properties over 255 bytes or with invalid UTF-8, and
// header values the table policy refuses, fail the encoder with
// amqp.ErrInvalidArgument.
func (e *Encoder) ContentHeader(class uint16, bodySize uint64, p *amqp.Properties) {
	flags := PropertyFlags(p)
	e.Short(class)
	e.Short(0) // weight
	e.LongLong(bodySize)
	e.Short(flags)
	if flags == 0 {
		return
	}
	if flags&FlagContentType != 0 {
		e.ShortStr(p.ContentType)
	}
	if flags&FlagContentEncoding != 0 {
		e.ShortStr(p.ContentEncoding)
	}
	if flags&FlagHeaders != 0 {
		e.Table(p.Headers)
	}
	if flags&FlagDeliveryMode != 0 {
		e.Octet(p.DeliveryMode)
	}
	if flags&FlagPriority != 0 {
		e.Octet(p.Priority)
	}
	if flags&FlagCorrelationID != 0 {
		e.ShortStr(p.CorrelationID)
	}
	if flags&FlagReplyTo != 0 {
		e.ShortStr(p.ReplyTo)
	}
	if flags&FlagExpiration != 0 {
		e.ShortStr(p.Expiration)
	}
	if flags&FlagMessageID != 0 {
		e.ShortStr(p.MessageID)
	}
	if flags&FlagTimestamp != 0 {
		e.Timestamp(uint64(p.Timestamp.Unix()))
	}
	if flags&FlagType != 0 {
		e.ShortStr(p.Type)
	}
	if flags&FlagUserID != 0 {
		e.ShortStr(p.UserID)
	}
	if flags&FlagAppID != 0 {
		e.ShortStr(p.AppID)
	}
	if flags&FlagClusterID != 0 {
		e.ShortStr(p.ClusterID)
	}
}

// ContentHeader reads a content-header payload into p and returns its class
// id and body size. The caller calls d.Finish.
//
// Only the properties present on the wire are written to p, so the caller
// passes a zeroed Properties. A non-zero weight is a protocol error. When the
// continuation flag (bit 0) is set, the further flag words are read and
// ignored (no basic property lives there). Timestamp decodes to UTC; the
// headers table follows the rules of Table.
func (d *Decoder) ContentHeader(p *amqp.Properties) (class uint16, bodySize uint64) {
	class = d.Short()
	weight := d.Short()
	if d.err == nil && weight != 0 {
		d.fail(fmt.Errorf("%w: content header weight is %d, want 0", amqp.ErrProtocol, weight))
	}
	bodySize = d.LongLong()
	flags := d.Short()
	for more := flags; more&FlagContinuation != 0 && d.err == nil; {
		more = d.Short()
	}
	if d.err != nil {
		return 0, 0
	}
	if flags&FlagContentType != 0 {
		p.ContentType = d.ShortStr()
	}
	if flags&FlagContentEncoding != 0 {
		p.ContentEncoding = d.ShortStr()
	}
	if flags&FlagHeaders != 0 {
		p.Headers = d.Table()
	}
	if flags&FlagDeliveryMode != 0 {
		p.DeliveryMode = d.Octet()
	}
	if flags&FlagPriority != 0 {
		p.Priority = d.Octet()
	}
	if flags&FlagCorrelationID != 0 {
		p.CorrelationID = d.ShortStr()
	}
	if flags&FlagReplyTo != 0 {
		p.ReplyTo = d.ShortStr()
	}
	if flags&FlagExpiration != 0 {
		p.Expiration = d.ShortStr()
	}
	if flags&FlagMessageID != 0 {
		p.MessageID = d.ShortStr()
	}
	if flags&FlagTimestamp != 0 {
		if ts := d.Timestamp(); d.err == nil {
			p.Timestamp = time.Unix(int64(ts), 0).UTC()
		}
	}
	if flags&FlagType != 0 {
		p.Type = d.ShortStr()
	}
	if flags&FlagUserID != 0 {
		p.UserID = d.ShortStr()
	}
	if flags&FlagAppID != 0 {
		p.AppID = d.ShortStr()
	}
	if flags&FlagClusterID != 0 {
		p.ClusterID = d.ShortStr()
	}
	if d.err != nil {
		return 0, 0
	}
	return class, bodySize
}
