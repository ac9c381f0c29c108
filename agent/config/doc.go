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
// KiB, MiB or GiB ("64MiB"). Whole numbers may be written in hex ("0x76");
// one written with a fraction ("64.5") is refused rather than cut.
//
// Every number key (a duration, a size or a whole number) has limits, in
// the limit tag of its field ("1s..18h", "1..247"), which the decoder
// checks as it reads the value. A key left out takes its default; a key
// written as 0 is read like any other value and refused by its limits,
// unless 0 is a value of its own there, which its doc says
// (outbox.flushInterval: commit at once; a Modbus sensor's retries: send
// once). So an explicit 0 never silently stands for the default, as it
// does in the components' Go structs. A key whose values are a set with
// holes (a BME280's oversampling: 1, 2, 4, 8 or 16) has the set's bounds
// as its limits, and Validate checks the set.
//
// # Caveats
//
//   - Relative paths (stateDir, the TLS files) are taken relative to the
//     working directory of the agent, not to the configuration file.
//   - YAML anchors and aliases are refused: every value is written where it
//     applies, which keeps key paths in errors unambiguous.
//   - The limits of a number key are its limit tag's. The other limits
//     of the uplink, outbox, rpc and health settings are those of their
//     packages' Validate; their messages name the setting.
package config
