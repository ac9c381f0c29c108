package kafka_test

import (
	"testing"

	"github.com/iot-hub/agent/agent/uplink/kafka"
)

// TestPartitionForMatchesJava checks PartitionFor against the murmur2
// hashes of Kafka's Java client (UtilsTest.testMurmur2, and librdkafka's
// rdmurmur2 test vectors for "kafka"), placed as its default partitioner
// does: toPositive(hash) % partitions, toPositive masking the sign bit.
func TestPartitionForMatchesJava(t *testing.T) {
	javaMurmur2 := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc":   479470107,
		"1":     -1993445489,
		"12":    126087238,
		"123":   -267702483,
		"1234":  -1614185708,
		"12345": -1188365604,
		"kafka": -798503068, // 0xd067cf64
	}
	for key, hash := range javaMurmur2 {
		for _, n := range []int{1, 2, 3, 6, 7, 12, 100} {
			want := int32(int64(uint32(hash)&0x7fffffff) % int64(n))
			if got := kafka.PartitionFor([]byte(key), n); got != want {
				t.Errorf("PartitionFor(%q, %d) = %d; want %d (Java murmur2 %d)", key, n, got, want, hash)
			}
		}
	}
}

// TestPartitionForKnownPlacements pins a few placements in full.
func TestPartitionForKnownPlacements(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int
		want int32
	}{
		// toPositive(-790332482) = 1357151166
		{"foobar", 3, 1357151166 % 3},
		{"foobar", 10, 6},
		// toPositive(479470107) = 479470107
		{"abc", 10, 7},
		{"abc", 12, 479470107 % 12},
	} {
		if got := kafka.PartitionFor([]byte(tc.key), tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d; want %d", tc.key, tc.n, got, tc.want)
		}
	}
}
