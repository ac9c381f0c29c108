// Package config reads the agent's YAML configuration file and maps it onto
// the Config structs of the components it wires: the uplink (MQTT or
// Kafka), the outbox, RPC, certificate renewal, the health endpoint and
// the sensors.
//
// There are only a few types. A [Config] is the whole file, with one struct
// per section ([Log], [Uplink] with [MQTT], [EmbeddedBroker] and [Kafka],
// the components' Settings for the others (outbox.Settings,
// rpc.Settings, certs.Settings, health.Settings), and a drivers.Sensor per entry of the sensors list. An
// [*Error] names the file, line and key path of what is wrong.
//
// # Basics
//
// [Load] reads a file; [Parse] reads bytes. Both refuse unknown keys, apply
// the environment overrides ([EnvMQTTUsername], [EnvMQTTPassword],
// [EnvKafkaPassword]), fill in the defaults and validate, so that a Config
// they return is complete: printing it ([Config.MaskedYAML]) shows the
// effective configuration. [Config.MQTTConfig], [Config.OutboxConfig] and
// the other methods give the components' configurations.
//
// How a file is read is internal/confkeys's: strict keys with suggestions,
// Go duration strings ("30s"), sizes ("64MiB", [confkeys.Size]), whole
// numbers maybe in hex ("0x76"), and the limits of every number key in
// its field's limit tag ("1s..18h"), checked as the value is read. A key
// left out takes its default; a key written as 0 is refused by its limits,
// unless 0 is a value of its own there, which its doc says
// (outbox.flushInterval: commit at once; a Modbus sensor's retries: send
// once). So an explicit 0 never silently stands for the default, as it
// does in the components' Go structs.
//
// # Sensors
//
// The keys of a sensor are its driver's: drivers.Sensor holds name, type,
// interval and timeout, and the keys of its type, which its driver
// package declares, defaults and validates (sim.Settings,
// modbus.Settings, serialport.Settings for a serial port's, ...). Adding
// a key to a sensor type changes that package only. This package keeps
// what spans the sensors: their names are unique, and the sensors on one
// serial port agree on its framing, unless one needs the port alone.
//
// # Caveats
//
//   - Relative paths (stateDir, the TLS files) are taken relative to the
//     working directory of the agent, not to the configuration file.
//   - YAML anchors and aliases are refused: every value is written where it
//     applies, which keeps key paths in errors unambiguous.
//   - A component's errors are turned into this package's [*Error] at the
//     key they name: the sensors' are *confkeys.FieldErrors with a key
//     path; those of the uplink, outbox, rpc and health settings name a Go
//     field, matched to a key of the section by its name.
package config
