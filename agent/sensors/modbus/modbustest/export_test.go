package modbustest

// Received returns how many bytes l has read.
func Received(l *Line) int64 { return l.received.Load() }
