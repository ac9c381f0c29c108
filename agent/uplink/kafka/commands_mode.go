package kafka

import "fmt"

// CommandsPartitions names which partitions of the commands topic, and
// of the certificates topic, the agent reads.
type CommandsPartitions string

// Modes of reading the commands and certificates topics.
const (
	// CommandsOwn reads of each topic the one partition the device id
	// maps to with Config.Partitioner: the producers must key commands
	// and certificate.issued by device id, with that partitioner.
	CommandsOwn CommandsPartitions = "own"
	// CommandsAll reads every partition, for producers that send
	// without a key, or with another partitioner. Each gateway then
	// fetches the whole fleet's commands and certificate events: for
	// small fleets.
	CommandsAll CommandsPartitions = "all"
)

// withCommandsDefaults fills in Partitioner and CommandsPartitions.
func (c Config) withCommandsDefaults() Config {
	if c.Partitioner == "" {
		c.Partitioner = PartitionerMurmur2
	}
	if c.CommandsPartitions == "" {
		c.CommandsPartitions = CommandsOwn
	}
	return c
}

// validateCommands reports a wrong Partitioner or CommandsPartitions.
func (c Config) validateCommands() error {
	switch {
	case c.Partitioner != PartitionerMurmur2 && c.Partitioner != PartitionerLegacy:
		return fmt.Errorf("%w: Partitioner %q is not %s or %s", ErrInvalidConfig, c.Partitioner, PartitionerMurmur2, PartitionerLegacy)
	case c.CommandsPartitions != CommandsOwn && c.CommandsPartitions != CommandsAll:
		return fmt.Errorf("%w: CommandsPartitions %q is not %s or %s", ErrInvalidConfig, c.CommandsPartitions, CommandsOwn, CommandsAll)
	}
	return nil
}
