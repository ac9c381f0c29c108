package contracts

import (
	"fmt"
	"strings"
)

// MQTTTopics are the MQTT topics of one device. All are used at QoS 1.
type MQTTTopics struct {
	// Commands is where the device receives commands (it subscribes).
	Commands string
	// Responses is where it publishes responses without a Response Topic.
	Responses string
	// Events is where it publishes events other than telemetry and status.
	Events string
	// Telemetry is where it publishes device.telemetry.
	Telemetry string
	// DLQ is where it publishes dead letters.
	DLQ string
	// Status carries device.status.changed, retained: online on connect,
	// offline as the Last Will.
	Status string
}

// MQTTTopicPrefix is the root of every device topic.
const MQTTTopicPrefix = "iot/v1/devices/"

// DeviceTopics returns the topics of deviceID. The id must be non-empty
// and must not hold the characters MQTT gives a meaning in topics: '/',
// '+', '#' and NUL.
func DeviceTopics(deviceID string) (MQTTTopics, error) {
	if err := CheckDeviceID(deviceID); err != nil {
		return MQTTTopics{}, err
	}
	base := MQTTTopicPrefix + deviceID + "/"
	return MQTTTopics{
		Commands:  base + "commands",
		Responses: base + "responses",
		Events:    base + "events",
		Telemetry: base + "telemetry",
		DLQ:       base + "dlq",
		Status:    base + "status",
	}, nil
}

// CheckDeviceID reports whether id can name a device in MQTT topics.
func CheckDeviceID(id string) error {
	if id == "" {
		return errRequired("deviceId")
	}
	if i := strings.IndexAny(id, "/+#\x00"); i >= 0 {
		return newError(ErrInvalidValue, "deviceId", fmt.Sprintf("%q holds %q, which MQTT topics reserve", id, id[i]))
	}
	return nil
}

// For returns the topic a device publishes a message of type t on:
// commands go to Commands (for tools that send them), responses to
// Responses, telemetry to Telemetry, status changes to Status, dead letters
// to DLQ and every other event to Events.
func (tp MQTTTopics) For(t EventType) string {
	switch {
	case t == TypeDeviceTelemetry:
		return tp.Telemetry
	case t == TypeDeviceStatusChanged:
		return tp.Status
	case t == TypeSystemDLQ:
		return tp.DLQ
	case t.Kind() == KindCommand:
		return tp.Commands
	case t.Kind() == KindResponse:
		return tp.Responses
	}
	return tp.Events
}
