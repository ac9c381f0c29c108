package mqtt

import (
	"strings"
	"unicode/utf8"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/confkeys"
)

// The protocols of Settings.Protocol: the wire formats the uplink speaks.
//
//   - ProtocolV1: the v1 contract only, on the iot/v1/devices/... topics.
//   - ProtocolLegacy: the platform's old formats (package
//     contracts/legacy) where one exists: telemetry, the device's status
//     and the answers to old-format commands, on the LegacyTopics; every
//     other message (certificate events, dead letters, answers to v1
//     commands) has none and goes out in v1 on its v1 topic. Commands are
//     taken in both formats.
//   - ProtocolDual: like ProtocolLegacy, but telemetry and the status go
//     out in both formats, each on its topics.
const (
	ProtocolV1     = "v1"
	ProtocolLegacy = "legacy"
	ProtocolDual   = "dual"
)

// Protocols are the values of Settings.Protocol.
var Protocols = []string{ProtocolV1, ProtocolLegacy, ProtocolDual}

// DeviceIDPlaceholder is what the device id replaces in LegacyTopics.
const DeviceIDPlaceholder = "{deviceId}"

// LegacyTopics are the MQTT topics of the platform's old formats, each
// holding DeviceIDPlaceholder, which the device id replaces: the keys of
// uplink.mqtt.legacyTopics. The platform's documents do not say which
// topics the old backend used: the defaults are guesses, to be set to
// what it uses. No two may be alike, nor alike any v1 topic, and none may
// hold the wildcards + and # (or NUL).
type LegacyTopics struct {
	// Commands is where old-format RPC commands arrive: the uplink
	// subscribes to it. Default devices/{deviceId}/rpc/request.
	Commands string `yaml:"commands"`
	// Responses is where the answers to them go, unless the command gave
	// an MQTT v5 Response Topic. Default devices/{deviceId}/rpc/response.
	Responses string `yaml:"responses"`
	// Telemetry is where plain telemetry objects go. Default
	// devices/{deviceId}/telemetry.
	Telemetry string `yaml:"telemetry"`
	// Status is where DeviceStatusChanged events go, retained. Default
	// devices/{deviceId}/status.
	Status string `yaml:"status"`
}

// setDefaults fills in the topics left out.
func (t *LegacyTopics) setDefaults() {
	confkeys.SetDefault(&t.Commands, "devices/"+DeviceIDPlaceholder+"/rpc/request")
	confkeys.SetDefault(&t.Responses, "devices/"+DeviceIDPlaceholder+"/rpc/response")
	confkeys.SetDefault(&t.Telemetry, "devices/"+DeviceIDPlaceholder+"/telemetry")
	confkeys.SetDefault(&t.Status, "devices/"+DeviceIDPlaceholder+"/status")
}

// keyed returns the topics with their keys, in the order of the file.
func (t LegacyTopics) keyed() [4][2]string {
	return [4][2]string{{"commands", t.Commands}, {"responses", t.Responses}, {"telemetry", t.Telemetry}, {"status", t.Status}}
}

// validate reports the first topic that is wrong, at its key's path.
func (t LegacyTopics) validate() error {
	v1, _ := contracts.DeviceTopics(DeviceIDPlaceholder) // a valid id
	v1Topics := []string{v1.Commands, v1.Responses, v1.Events, v1.Telemetry, v1.DLQ, v1.Status}
	keyed := t.keyed()
	for i, kv := range keyed {
		key, topic := kv[0], kv[1]
		path := "legacyTopics." + key
		switch {
		case topic == "":
			return fieldErr(path, "LegacyTopics.%s is required", key)
		case !utf8.ValidString(topic):
			return fieldErr(path, "LegacyTopics.%s %q is not valid UTF-8", key, topic)
		case strings.ContainsAny(topic, "+#\x00"):
			return fieldErr(path, "LegacyTopics.%s %q holds a wildcard (+ or #) or NUL: it is a topic to publish or subscribe to, not a filter", key, topic)
		case !strings.Contains(topic, DeviceIDPlaceholder):
			return fieldErr(path, "LegacyTopics.%s %q does not hold %s: each gateway needs topics of its own", key, topic, DeviceIDPlaceholder)
		}
		for _, earlier := range keyed[:i] {
			if earlier[1] == topic {
				return fieldErr(path, "LegacyTopics.%s %q is also LegacyTopics.%s", key, topic, earlier[0])
			}
		}
		for _, v := range v1Topics {
			if v == topic {
				return fieldErr(path, "LegacyTopics.%s %q is a v1 topic", key, topic)
			}
		}
	}
	return nil
}

// forDevice returns the topics of device id.
func (t LegacyTopics) forDevice(id string) LegacyTopics {
	r := strings.NewReplacer(DeviceIDPlaceholder, id)
	return LegacyTopics{Commands: r.Replace(t.Commands), Responses: r.Replace(t.Responses), Telemetry: r.Replace(t.Telemetry), Status: r.Replace(t.Status)}
}
