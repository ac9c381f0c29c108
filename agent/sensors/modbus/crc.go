package modbus

// crc16 returns the CRC-16/MODBUS of b: polynomial 0xA001 (reflected
// 0x8005), initial value 0xFFFF. A frame carries it low byte first.
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// appendCRC appends the CRC of frame to it, low byte first.
func appendCRC(frame []byte) []byte {
	crc := crc16(frame)
	return append(frame, byte(crc), byte(crc>>8))
}

// crcOK reports whether frame ends with the CRC of the bytes before it.
func crcOK(frame []byte) bool {
	n := len(frame)
	return n >= 2 && crc16(frame[:n-2]) == uint16(frame[n-2])|uint16(frame[n-1])<<8
}
