package kafka

import "github.com/twmb/franz-go/pkg/kgo"

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
