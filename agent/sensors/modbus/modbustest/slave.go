package modbustest

import "slices"

// Slave is one simulated slave of a [Line]: two register tables and how
// it answers. Its methods are safe for concurrent use, also while the
// line serves.
type Slave struct {
	line *Line
	id   uint8

	// Guarded by line.mu.
	holding, input map[uint16]uint16
	silent         bool
	faults         []Fault
}

// Fault makes a slave answer one request badly. The zero Fault answers
// well.
type Fault struct {
	// Silent: no answer at all.
	Silent bool
	// Exception, when not 0, is the code of an exception response sent
	// instead of the registers: 1 illegal function, 2 illegal data
	// address, 4 server device failure, 6 server device busy...
	Exception byte
	// Noise is sent just before the answer, in the same write, as a
	// glitch on the line would put it there.
	Noise []byte
	// Truncate, when positive, sends only the answer's first Truncate
	// bytes.
	Truncate int
	// BadCRC flips the bits of the answer's CRC.
	BadCRC bool
}

// SetHolding sets holding registers from address on to words.
func (s *Slave) SetHolding(address uint16, words ...uint16) { s.set(&s.holding, address, words) }

// SetInput sets input registers from address on to words.
func (s *Slave) SetInput(address uint16, words ...uint16) { s.set(&s.input, address, words) }

func (s *Slave) set(table *map[uint16]uint16, address uint16, words []uint16) {
	s.line.mu.Lock()
	defer s.line.mu.Unlock()
	if *table == nil {
		*table = make(map[uint16]uint16)
	}
	for i, w := range words {
		(*table)[address+uint16(i)] = w
	}
}

// SetSilent makes the slave ignore every request (true), as if it were
// unpowered, or answer again (false).
func (s *Slave) SetSilent(silent bool) {
	s.line.mu.Lock()
	defer s.line.mu.Unlock()
	s.silent = silent
}

// Fail makes the slave answer its next requests with faults, one fault
// a request, in order; then it answers well again.
func (s *Slave) Fail(faults ...Fault) {
	s.line.mu.Lock()
	defer s.line.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// answer returns what the slave sends for a request read of count
// registers of function from address, and how the request was answered.
// The caller holds line.mu.
func (s *Slave) answer(function uint8, address, count uint16) ([]byte, Answer) {
	var f Fault
	if len(s.faults) > 0 {
		f = s.faults[0]
		s.faults = slices.Delete(s.faults, 0, 1)
	}
	if s.silent || f.Silent {
		return nil, AnswerSilent
	}
	table := s.holding
	if function == 4 {
		table = s.input
	}
	ans, kind := []byte{s.id, function, byte(2 * count)}, AnswerRegisters
	for i := range count {
		w, ok := table[address+i]
		if !ok && f.Exception == 0 {
			f.Exception = 2 // illegal data address
		}
		ans = append(ans, byte(w>>8), byte(w))
	}
	if f.Exception != 0 {
		ans, kind = []byte{s.id, function | 0x80, f.Exception}, AnswerException
	}
	ans = AppendCRC(ans)
	if f.BadCRC {
		ans[len(ans)-1] ^= 0xFF
		ans[len(ans)-2] ^= 0xFF
	}
	if f.Truncate > 0 && f.Truncate < len(ans) {
		ans = ans[:f.Truncate]
	}
	if f.BadCRC || f.Truncate > 0 || len(f.Noise) > 0 {
		kind = AnswerDamaged
	}
	return append(slices.Clip(f.Noise), ans...), kind
}
