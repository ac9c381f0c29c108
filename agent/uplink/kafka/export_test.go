package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SetMetadataEvery makes the uplinks started after it read the commands
// topic's partition count every d; restore puts the default back.
func SetMetadataEvery(d time.Duration) (restore func()) {
	old := metadataEvery
	metadataEvery = d
	return func() { metadataEvery = old }
}

// Codec returns franz-go's codec of a Config.Compression, for the
// benchmark's bare producer.
func Codec(compression string) kgo.CompressionCodec { return codecs[compression] }

// LegacyMurmur2 is legacyMurmur2, for its test vectors.
var LegacyMurmur2 = legacyMurmur2
