package kafka

// legacyMurmur2 is kafkajs's src/producer/partitioners/legacy/murmur2.js,
// bug for bug. Written in JavaScript numbers, it differs from the Java
// murmur2 in two ways, both kept here:
//
//   - Its products (k *= M, h *= M) are float64 multiplications, not
//     32-bit ones: above 2^53 they are rounded, and the next bitwise
//     operator takes the low 32 bits of the rounded value (ToInt32).
//   - Its loop runs while i < length/4, a fraction: a key whose length
//     is not a multiple of 4 gets one more round over its last bytes,
//     padded with zeros (a Buffer past its end reads undefined, and
//     undefined & 0xff is 0), before the tail is mixed in as well.
func legacyMurmur2(data []byte) int32 {
	const seed, m = 0x9747b28c, 0x5bd1e995
	n := len(data)
	at := func(i int) uint32 {
		if i < n {
			return uint32(data[i])
		}
		return 0
	}
	h := float64(int32(seed ^ uint32(n)))
	for i := 0; i < n; i += 4 {
		// The sum of the four int32 shifts is exact in float64.
		k := float64(int32(at(i))) + float64(int32(at(i+1)<<8)) + float64(int32(at(i+2)<<16)) + float64(int32(at(i+3)<<24))
		k *= m
		k = float64(jsInt32(k) ^ int32(jsUint32(k)>>24))
		k *= m
		h *= m
		h = float64(jsInt32(h) ^ jsInt32(k))
	}
	switch n % 4 {
	case 3:
		h = float64(jsInt32(h) ^ int32(at(n&^3+2)<<16))
		fallthrough
	case 2:
		h = float64(jsInt32(h) ^ int32(at(n&^3+1)<<8))
		fallthrough
	case 1:
		h = float64(jsInt32(h) ^ int32(at(n&^3)))
		h *= m
	}
	h = float64(jsInt32(h) ^ int32(jsUint32(h)>>13))
	h *= m
	return jsInt32(h) ^ int32(jsUint32(h)>>15)
}

// jsInt32 and jsUint32 are JavaScript's ToInt32 and ToUint32 of an
// integral float64 below 2^63 in magnitude, as every value here is: its
// low 32 bits.
func jsInt32(f float64) int32   { return int32(int64(f)) }
func jsUint32(f float64) uint32 { return uint32(int64(f)) }
