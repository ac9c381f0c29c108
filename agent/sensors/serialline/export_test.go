package serialline

// Pending returns how many bytes of an unfinished line s holds.
func Pending(s *Sensor) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Records counts the records s received.
func Records(s *Sensor) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records
}
