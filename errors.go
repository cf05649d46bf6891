package amqp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Reply codes defined by AMQP 0-9-1 (and RabbitMQ's 0-8 table). A broker sends
// them in connection.close, channel.close and basic.return.
const (
	ReplySuccess       = 200
	ContentTooLarge    = 311
	NoRoute            = 312
	NoConsumers        = 313
	ConnectionForced   = 320
	InvalidPath        = 402
	AccessRefused      = 403
	NotFound           = 404
	ResourceLocked     = 405
	PreconditionFailed = 406
	FrameError         = 501
	SyntaxError        = 502
	CommandInvalid     = 503
	ChannelError       = 504
	UnexpectedFrame    = 505
	ResourceError      = 506
	NotAllowed         = 530
	NotImplemented     = 540
	InternalError      = 541
)

// Error is an exception raised by the broker (connection.close or channel.close)
// or a protocol violation detected by the client. Code is the AMQP reply code,
// Text the broker's reply text ("NOT_FOUND - no queue 'x'"), and ClassID/MethodID
// name the method that caused it (0/0 when none). Server reports whether the
// broker raised it.
type Error struct {
	Code     int
	Text     string
	ClassID  uint16
	MethodID uint16
	Server   bool
}

// Error formats the exception as "amqp: 404 NOT_FOUND - no queue 'x' (50.10)".
// Control characters in Text (a newline, an escape sequence) are written
// escaped, as Go does in a quoted string, so a broker's text cannot forge
// lines or terminal output.
func (e *Error) Error() string {
	s := "amqp: " + strconv.Itoa(e.Code) + " " + escapeControl(e.Text)
	if e.ClassID != 0 || e.MethodID != 0 {
		s += " (" + methodName(e.ClassID, e.MethodID) + ")"
	}
	return s
}

// Is reports whether target is an *Error with the same reply code, so that
// errors.Is(err, amqp.ErrNotFound) matches any 404 exception.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Hard reports whether the code is a connection-level (hard) error: such
// errors close the whole connection rather than one channel. It goes by the
// code's class: a 403 refusing the login is a soft code, though the
// connection it ends was never open.
func (e *Error) Hard() bool { return IsHardCode(e.Code) }

// IsHardCode reports whether an AMQP reply code closes the connection.
func IsHardCode(code int) bool {
	switch code {
	case ConnectionForced, InvalidPath, FrameError, SyntaxError, CommandInvalid,
		ChannelError, UnexpectedFrame, ResourceError, NotAllowed, NotImplemented, InternalError:
		return true
	}
	return false
}

// Sentinels for errors.Is matching by reply code.
var (
	ErrContentTooLarge    = &Error{Code: ContentTooLarge, Text: "CONTENT_TOO_LARGE"}
	ErrNoRoute            = &Error{Code: NoRoute, Text: "NO_ROUTE"}
	ErrNoConsumers        = &Error{Code: NoConsumers, Text: "NO_CONSUMERS"}
	ErrConnectionForced   = &Error{Code: ConnectionForced, Text: "CONNECTION_FORCED"}
	ErrInvalidPath        = &Error{Code: InvalidPath, Text: "INVALID_PATH"}
	ErrAccessRefused      = &Error{Code: AccessRefused, Text: "ACCESS_REFUSED"}
	ErrNotFound           = &Error{Code: NotFound, Text: "NOT_FOUND"}
	ErrResourceLocked     = &Error{Code: ResourceLocked, Text: "RESOURCE_LOCKED"}
	ErrPreconditionFailed = &Error{Code: PreconditionFailed, Text: "PRECONDITION_FAILED"}
	ErrFrameError         = &Error{Code: FrameError, Text: "FRAME_ERROR"}
	ErrSyntaxError        = &Error{Code: SyntaxError, Text: "SYNTAX_ERROR"}
	ErrCommandInvalid     = &Error{Code: CommandInvalid, Text: "COMMAND_INVALID"}
	ErrChannelError       = &Error{Code: ChannelError, Text: "CHANNEL_ERROR"}
	ErrUnexpectedFrame    = &Error{Code: UnexpectedFrame, Text: "UNEXPECTED_FRAME"}
	ErrResourceError      = &Error{Code: ResourceError, Text: "RESOURCE_ERROR"}
	ErrNotAllowed         = &Error{Code: NotAllowed, Text: "NOT_ALLOWED"}
	ErrNotImplemented     = &Error{Code: NotImplemented, Text: "NOT_IMPLEMENTED"}
	ErrInternalError      = &Error{Code: InternalError, Text: "INTERNAL_ERROR"}
)

// Client-side error kinds. They are wrapped with detail; match them with errors.Is.
var (
	// ErrClosed is returned when a channel or connection is used after it closed.
	// The error returned wraps the reason it closed, when there was one.
	ErrClosed = errors.New("amqp: closed")
	// ErrTimeout is returned when a blocking call ran past its deadline.
	ErrTimeout = errors.New("amqp: timeout")
	// ErrHeartbeatTimeout is the reason a connection closes when the broker
	// stayed silent for two heartbeat intervals.
	ErrHeartbeatTimeout = errors.New("amqp: heartbeat timeout: nothing received from the broker")
	// ErrInvalidArgument is returned, before anything is written, for a value
	// the protocol cannot carry (a short string over 255 bytes, an unsupported
	// header type, a channel id out of range, ...).
	ErrInvalidArgument = errors.New("amqp: invalid argument")
	// ErrProtocol is returned when the broker sent something malformed or
	// unexpected; the connection is closed with it.
	ErrProtocol = errors.New("amqp: protocol error")
	// ErrAuth is returned when the broker refused the login.
	ErrAuth = errors.New("amqp: authentication failed")
	// ErrHandshake is returned when the connection failed before it was open.
	ErrHandshake = errors.New("amqp: handshake failed")
	// ErrUnsupported is returned for a feature the broker or protocol version lacks.
	ErrUnsupported = errors.New("amqp: not supported")
	// ErrNacked is returned when the broker nacked a published message in
	// confirm mode (it was not stored).
	ErrNacked = errors.New("amqp: message nacked by the broker")
	// ErrTooLarge is returned when an incoming message exceeds the configured
	// maximum message size.
	ErrTooLarge = errors.New("amqp: message too large")
)

// ClosedError is returned for calls on a closed channel or connection. It
// matches ErrClosed with errors.Is and unwraps to the reason it closed.
type ClosedError struct {
	What   string // "channel 3" or "connection"
	Reason error  // the exception or I/O error that closed it; nil after Close
}

// Error says what closed and why.
func (e *ClosedError) Error() string {
	if e.Reason == nil {
		return "amqp: " + e.What + " is closed"
	}
	return "amqp: " + e.What + " is closed: " + trimPrefix(e.Reason.Error())
}

// Is matches ErrClosed.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Unwrap returns the reason.
func (e *ClosedError) Unwrap() error { return e.Reason }

// invalid returns an error wrapping ErrInvalidArgument with a formatted
// detail (internal/amqperr builds the library's own).
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// escapeControl escapes control characters (and then quotes and
// backslashes too) as Go's quoted strings do; text without control
// characters is returned as it is.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func trimPrefix(s string) string {
	if len(s) > 6 && s[:6] == "amqp: " {
		return s[6:]
	}
	return s
}
