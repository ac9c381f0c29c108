package kafka

import "time"

// SetMetadataEvery makes the uplinks started after it read the commands
// topic's partition count every d; restore puts the default back.
func SetMetadataEvery(d time.Duration) (restore func()) {
	old := metadataEvery
	metadataEvery = d
	return func() { metadataEvery = old }
}
