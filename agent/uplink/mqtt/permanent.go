package mqtt

// permanent reports whether a PUBACK reason code refuses the message
// itself, so retrying cannot help: not authorized (0x87), topic name
// invalid (0x90), packet too large (0x95), payload format invalid (0x99).
// Other failures (unspecified 0x80, quota exceeded 0x97) are retried.
func permanent(code byte) bool {
	switch code {
	case 0x87, 0x90, 0x95, 0x99:
		return true
	}
	return false
}
