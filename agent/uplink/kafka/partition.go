package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// Partitioner names how the producers of commands place a record keyed by
// a device id, and so the partition the agent reads its commands from.
type Partitioner string

// Partitioners.
const (
	// PartitionerMurmur2 is Kafka's Java client's default partitioner,
	// which librdkafka's "murmur2_random" and kafkajs 2's default follow
	// ([PartitionFor]).
	PartitionerMurmur2 Partitioner = "murmur2"
	// PartitionerLegacy is kafkajs's LegacyPartitioner, its 1.x default
	// that kafkajs 2 suggests at startup ([LegacyPartitionFor]).
	PartitionerLegacy Partitioner = "legacy"
)

// partition returns the partition, of partitions, p places key on.
func (p Partitioner) partition(key []byte, partitions int) int32 {
	if p == PartitionerLegacy {
		return LegacyPartitionFor(key, partitions)
	}
	return PartitionFor(key, partitions)
}

// keyPartitioner is franz-go's partitioner that places keyed records as
// Kafka's Java client's default partitioner does. It keeps state only for
// records without a key, which it is never given.
var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// PartitionFor returns the partition, of partitions, that Kafka's default
// partitioner (the Java client's, and librdkafka's "murmur2_random")
// gives a record keyed key: toPositive(murmur2(key)) % partitions. It is
// where producers of commands put a device's, with the device id as key.
// partitions must be positive.
func PartitionFor(key []byte, partitions int) int32 {
	if key == nil {
		key = []byte{} // a nil key would be placed at random
	}
	return int32(keyPartitioner.Partition(&kgo.Record{Key: key}, partitions))
}

// LegacyPartitionFor returns the partition, of partitions, that kafkajs's
// LegacyPartitioner gives a record keyed key: toPositive(h) % partitions,
// h being kafkajs's legacy murmur2 (legacyMurmur2), which differs from
// the Java one. partitions must be positive.
func LegacyPartitionFor(key []byte, partitions int) int32 {
	return int32(int64(legacyMurmur2(key)&0x7fffffff) % int64(partitions))
}
