package serialline

// splitter cuts the bytes read from the port into lines. A line ends at
// CR, LF or CRLF; empty lines are ignored. It is used by one goroutine.
type splitter struct {
	max      int    // longest line kept, in bytes
	buf      []byte // the line so far
	oversize bool   // dropping the rest of an oversize line
	unsynced bool   // dropping the first line after an open
	dropped  bool   // unsynced: some of that line was dropped
}

// feed splits b, continuing the line so far: it calls line with each
// complete line (valid until line returns) and skip for each line
// dropped.
func (s *splitter) feed(b []byte, line func([]byte), skip func(Reason)) {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			switch {
			case s.unsynced:
				s.dropped = true
			case s.oversize:
			case len(s.buf) == s.max:
				s.buf, s.oversize = s.buf[:0], true
				skip(Oversize)
			default:
				s.buf = append(s.buf, c)
			}
			continue
		}
		switch {
		case s.unsynced:
			if s.dropped {
				skip(Partial)
			}
			s.unsynced, s.dropped = false, false
		case s.oversize:
			s.oversize = false
		case len(s.buf) > 0:
			line(s.buf)
			s.buf = s.buf[:0]
		}
	}
}

// cut drops the line so far, which the port's loss cut, as Partial.
func (s *splitter) cut(skip func(Reason)) {
	if len(s.buf) > 0 || s.dropped {
		skip(Partial)
	}
	s.buf, s.oversize, s.dropped = s.buf[:0], false, false
}

// resync is cut, and the next line is dropped as Partial too: the port
// was (re)opened, maybe in the middle of a line.
func (s *splitter) resync(skip func(Reason)) {
	s.cut(skip)
	s.unsynced = true
}

// pending is the length of the line so far.
func (s *splitter) pending() int { return len(s.buf) }
