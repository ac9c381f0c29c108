// Package config reads the agent's YAML configuration file and maps it onto
// the Config structs of the components it wires (the MQTT uplink, the
// outbox).
//
// There are only a few types. A [Config] is the whole file, with one struct
// per section ([Log], [Uplink], [MQTT], [EmbeddedBroker], [Outbox]) and a
// [Sensor] per entry of the sensors list. A [Size] is a byte count written
// as "64MiB". An [*Error] names the key path and line of what is wrong.
//
// # Basics
//
// [Load] reads a file; [Parse] reads bytes. Both refuse unknown keys, apply
// the environment overrides ([EnvMQTTUsername], [EnvMQTTPassword]), fill in
// the defaults and validate, so that a Config they return is complete:
// printing it ([Config.MaskedYAML]) shows the effective configuration.
// [Config.MQTTConfig] and [Config.OutboxConfig] give the components'
// configurations.
//
// Durations are Go duration strings ("30s", "1m30s"); a bare number is
// refused, as it would not say its unit. Sizes are bytes, or a number with
// KiB, MiB or GiB ("64MiB").
//
// # Caveats
//
//   - Relative paths (stateDir, the TLS files) are taken relative to the
//     working directory of the agent, not to the configuration file.
//   - YAML anchors and aliases are refused: every value is written where it
//     applies, which keeps key paths in errors unambiguous.
//   - The limits of the uplink and outbox settings are those of their
//     packages' Validate; their messages name the setting.
package config
