package modbustest

// crcTable is the CRC-16/MODBUS table, byte by byte: an implementation
// independent of the driver's bitwise one, so that each checks the
// other.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			c = c>>1 ^ 0xA001*(c&1)
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of b. A frame carries it low byte first.
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^c]
	}
	return crc
}

// AppendCRC appends the CRC of frame to it, low byte first.
func AppendCRC(frame []byte) []byte {
	crc := CRC(frame)
	return append(frame, byte(crc), byte(crc>>8))
}
