package amqp

import "strconv"

var classNames = map[uint16]string{
	10: "connection", 20: "channel", 30: "access", 40: "exchange", 50: "queue",
	60: "basic", 85: "confirm", 90: "tx",
}

var methodNames = map[uint32]string{
	10<<16 | 10: "start", 10<<16 | 11: "start-ok", 10<<16 | 20: "secure", 10<<16 | 21: "secure-ok",
	10<<16 | 30: "tune", 10<<16 | 31: "tune-ok", 10<<16 | 40: "open", 10<<16 | 41: "open-ok",
	20<<16 | 10: "open", 20<<16 | 20: "flow", 20<<16 | 40: "close",
	30<<16 | 10: "request",
	40<<16 | 10: "declare", 40<<16 | 20: "delete", 40<<16 | 30: "bind", 40<<16 | 40: "unbind",
	50<<16 | 10: "declare", 50<<16 | 20: "bind", 50<<16 | 30: "purge", 50<<16 | 40: "delete", 50<<16 | 50: "unbind",
	60<<16 | 10: "qos", 60<<16 | 20: "consume", 60<<16 | 30: "cancel", 60<<16 | 40: "publish",
	60<<16 | 70: "get", 60<<16 | 80: "ack", 60<<16 | 90: "reject", 60<<16 | 100: "recover-async",
	60<<16 | 110: "recover", 60<<16 | 120: "nack",
	85<<16 | 10: "select", 90<<16 | 10: "select", 90<<16 | 20: "commit", 90<<16 | 30: "rollback",
}

// methodName names a client-sent method by ids, "queue.declare" for 50/10, for
// error messages. Unknown ids are printed as numbers ("60.999").
func methodName(classID, methodID uint16) string {
	c, ok := classNames[classID]
	m, ok2 := methodNames[uint32(classID)<<16|uint32(methodID)]
	if !ok || !ok2 {
		return strconv.Itoa(int(classID)) + "." + strconv.Itoa(int(methodID))
	}
	return c + "." + m
}
