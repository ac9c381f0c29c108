// Package config reads the agent's YAML configuration file: the keys of
// the components it wires (the uplink, MQTT or Kafka, the outbox, RPC,
// certificate renewal, the health endpoint and the sensors), which each
// component declares, and the rules between them.
//
// There are only a few types. A [Config] is the whole file: deviceId,
// stateDir and [Log] are its own; every other section is a component's
// Settings (uplink.mqtt is [MQTT], mqtt.Settings and embeddedBroker's
// broker.Settings; uplink.kafka kafka.Settings; outbox, rpc,
// certificates and health outbox.Settings, rpc.Settings, certs.Settings
// and health.Settings), and each entry of the sensors list a
// drivers.Sensor. An [*Error] names the file, line and key path of what
// is wrong.
//
// # Basics
//
// [Load] reads a file; [Parse] reads bytes. Both refuse unknown keys, apply
// the environment overrides ([EnvMQTTUsername], [EnvMQTTPassword],
// [EnvKafkaPassword]), fill in the defaults and validate, so that a Config
// they return is complete: printing it ([Config.MaskedYAML]) shows the
// effective configuration. Load also reads the files that the agent
// reads only as it starts, the embedded broker's TLS files, so that
// check-config reports one that is wrong at its key; the uplinks' and
// the certificates' files are read by the daemon. [Config.MQTTConfig], [Config.OutboxConfig] and
// the other methods give the components' configurations, with what they
// take from other sections (the device id, RPC's largest command for the
// MQTT uplink).
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
// # Components
//
// A component's Settings carry the keys of its section (yaml and limit
// tags, documented defaults), SetDefaults, which fills in those left
// out, and Validate, which returns a *confkeys.FieldError whose path is
// relative to the section: this package puts it under the section and
// on the key's line. Adding a key to a section changes the component's
// package only (and, for a number key, the table of its limits in this
// package's TestZeroValues). This package keeps what spans sections: the
// MQTT and Kafka uplinks exclude each other, the embedded broker's
// address is the MQTT broker's default (mqtts:// when it serves TLS, and
// the uplink then needs a certificate if the broker asks for one), the
// certificates' caFile defaults to the uplink's and rotation needs one, a
// client certificate needs TLS, and the environment overrides.
//
// The keys of a sensor are its driver's: drivers.Sensor holds name, type,
// interval and timeout, and the keys of its type, which its driver
// package declares, defaults and validates (sim.Settings,
// modbus.Settings, serialport.Settings for a serial port's, ...). This
// package keeps what spans the sensors: their names are unique, and the
// sensors on one serial port agree on its framing, unless one needs the
// port alone.
//
// # Caveats
//
//   - Relative paths (stateDir, the TLS files) are taken relative to the
//     working directory of the agent, not to the configuration file.
//   - YAML anchors and aliases are refused: every value is written where it
//     applies, which keeps key paths in errors unambiguous.
//   - The messages of the uplink.mqtt, outbox, rpc and health sections
//     name the component's Go field ("uplink.mqtt.backoffMin: BackoffMin
//     1m0s and BackoffMax 1s must be positive and in order"), as their Go
//     callers see them; those of a key left out are on the line of its
//     section (or sensor), while the certificates' and uplink.kafka's are
//     on none, as the rules of the whole file.
package config
