package config

import (
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Values of uplink.kafka.partitioner and uplink.kafka.commandsPartitions.
const (
	PartitionerMurmur2 = string(kafka.PartitionerMurmur2)
	PartitionerLegacy  = string(kafka.PartitionerLegacy)
	CommandsOwn        = string(kafka.CommandsOwn)
	CommandsAll        = string(kafka.CommandsAll)
)

// applyCommandsDefaults fills in partitioner and commandsPartitions.
func (k *Kafka) applyCommandsDefaults() {
	confkeys.SetDefault(&k.Partitioner, PartitionerMurmur2)
	confkeys.SetDefault(&k.CommandsPartitions, CommandsOwn)
}

// validateCommands reports a wrong partitioner or commandsPartitions.
func (k *Kafka) validateCommands(bad func(path, format string, args ...any) error) error {
	switch {
	case !oneOf(k.Partitioner, PartitionerMurmur2, PartitionerLegacy):
		return bad("uplink.kafka.partitioner", "%q: want murmur2 or legacy", k.Partitioner)
	case !oneOf(k.CommandsPartitions, CommandsOwn, CommandsAll):
		return bad("uplink.kafka.commandsPartitions", "%q: want own or all", k.CommandsPartitions)
	}
	return nil
}

// setCommands sets cfg's Partitioner and CommandsPartitions.
func (k *Kafka) setCommands(cfg *kafka.Config) {
	cfg.Partitioner = kafka.Partitioner(k.Partitioner)
	cfg.CommandsPartitions = kafka.CommandsPartitions(k.CommandsPartitions)
}
