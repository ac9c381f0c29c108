package kafka

import (
	"fmt"

	"github.com/iot-hub/agent/contracts"
)

// Topics are the names of the Kafka topics of the uplink, one for each
// of the contracts' topics: the backend may name its topics otherwise.
// An empty name is the contracts' one.
type Topics struct {
	// Commands is the topic the device's commands come on:
	// device.command.rpc and certificate.command.rotate. Default
	// device.commands.
	Commands string
	// Responses takes the responses to commands. Default device.responses.
	Responses string
	// Events takes the device's status and binding events. Default
	// device.events.
	Events string
	// Telemetry takes the sensors' readings. Default device.telemetry.
	Telemetry string
	// Certificates takes the certificate rotation's events, and brings
	// the device's certificate.issued. Default certificate.events.
	Certificates string
	// Users takes user.* events. Default user.events.
	Users string
	// Integrations takes integration.* events. Default integration.events.
	Integrations string
	// DLQ takes dead letters (system.dlq). Default dlq.
	DLQ string
}

// DefaultTopics returns the contracts' topic names.
func DefaultTopics() Topics {
	var t Topics
	for _, f := range t.fields() {
		*f.name = f.contract
	}
	return t
}

// topicField is one topic of Topics: the name of its field, the
// contracts' topic it stands for, and its name.
type topicField struct {
	field    string
	contract string
	name     *string
}

// fields lists the topics of t, in the order of the struct.
func (t *Topics) fields() []topicField {
	return []topicField{
		{"Commands", contracts.TopicDeviceCommands, &t.Commands},
		{"Responses", contracts.TopicDeviceResponses, &t.Responses},
		{"Events", contracts.TopicDeviceEvents, &t.Events},
		{"Telemetry", contracts.TopicDeviceTelemetry, &t.Telemetry},
		{"Certificates", contracts.TopicCertificateEvents, &t.Certificates},
		{"Users", contracts.TopicUserEvents, &t.Users},
		{"Integrations", contracts.TopicIntegrationEvents, &t.Integrations},
		{"DLQ", contracts.TopicDLQ, &t.DLQ},
	}
}

func (t Topics) withDefaults() Topics {
	for _, f := range t.fields() {
		if *f.name == "" {
			*f.name = f.contract
		}
	}
	return t
}

// check reports the first name that is not a Kafka topic name, or that
// another topic has too, naming both fields; the error is an
// ErrInvalidConfig.
func (t Topics) check() error {
	seen := map[string]string{}
	for _, f := range t.fields() {
		if err := CheckTopic(*f.name); err != nil {
			return fmt.Errorf("%w: Topics.%s: %w", ErrInvalidConfig, f.field, err)
		}
		if other, dup := seen[*f.name]; dup {
			return fmt.Errorf("%w: Topics.%s %q is also Topics.%s: each topic needs a name of its own", ErrInvalidConfig, f.field, *f.name, other)
		}
		seen[*f.name] = f.field
	}
	return nil
}

// byContract maps each of the contracts' topics to its name in t.
func (t Topics) byContract() map[string]string {
	m := map[string]string{}
	for _, f := range t.fields() {
		m[f.contract] = *f.name
	}
	return m
}

// CheckTopic reports why name is not a legal Kafka topic name: one of 1
// to 249 characters of [a-zA-Z0-9._-], and not "." or "..".
func CheckTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty: a topic needs a name")
	case len(name) > 249:
		return fmt.Errorf("%q is longer than Kafka's 249 characters", name)
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a Kafka topic name", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q holds %q: a Kafka topic name holds only letters, digits, '.', '_' and '-'", name, r)
		}
	}
	return nil
}
