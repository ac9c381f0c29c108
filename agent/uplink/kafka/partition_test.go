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

// TestLegacyPartitionForMatchesKafkajs checks LegacyPartitionFor against
// kafkajs 2.2.4, computed with node: require('kafkajs').Partitioners.
// LegacyPartitioner()({topic, partitionMetadata, message: {key}}) for 3
// and 12 partitions, and its legacy/murmur2.js for the hash. The keys
// cover every length modulo 4 (the legacy loop's extra round), bytes
// above 0x7f and hashes of both signs.
func TestLegacyPartitionForMatchesKafkajs(t *testing.T) {
	for _, tc := range []struct {
		key     string
		hash    int32 // legacy murmur2
		p3, p12 int32 // LegacyPartitioner
		java3   int32 // DefaultPartitioner, for contrast
		java12  int32
	}{
		{"21", -595812486, 2, 2, 0, 0},
		{"foobar", -309133275, 2, 5, 0, 6},
		{"abc", 1545667907, 2, 11, 0, 3},
		{"kafka", 840273835, 1, 7, 1, 4},
		{"a-little-bit-long-string", 2065008938, 2, 2, 2, 8},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 1360862267, 2, 11, 2, 5},
		{"dev-001", -1706287974, 2, 2, 0, 3},
		{"gw-0042", 917941613, 2, 5, 1, 10},
		{"sensor-hub-17", -2055206462, 0, 6, 1, 10},
		{"x", 406228845, 0, 9, 1, 10},
		{"\u00ff\u00fe\u00fd\u00fc\u00fb", 506719335, 0, 3, 0, 9},
		{"ключ-устройства", -1193250110, 0, 6, 2, 8},
		{"12345678", 1095261329, 2, 5, 0, 6},
	} {
		if got := kafka.LegacyMurmur2([]byte(tc.key)); got != tc.hash {
			t.Errorf("legacyMurmur2(%q) = %d; kafkajs %d", tc.key, got, tc.hash)
		}
		for _, c := range []struct {
			n            int
			legacy, java int32
		}{{3, tc.p3, tc.java3}, {12, tc.p12, tc.java12}} {
			if got := kafka.LegacyPartitionFor([]byte(tc.key), c.n); got != c.legacy {
				t.Errorf("LegacyPartitionFor(%q, %d) = %d; kafkajs LegacyPartitioner %d", tc.key, c.n, got, c.legacy)
			}
			if got := kafka.PartitionFor([]byte(tc.key), c.n); got != c.java {
				t.Errorf("PartitionFor(%q, %d) = %d; kafkajs DefaultPartitioner %d", tc.key, c.n, got, c.java)
			}
		}
	}
}
