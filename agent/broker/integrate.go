package broker

import (
	"fmt"
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Integrate says which messages of the broker's clients become the
// agent's own messages, and how many they may make: a device that floods
// is cut to its rate, and all of them together to a total rate, so that
// they neither starve the gateway's own telemetry nor fill the outbox.
type Integrate struct {
	// Topics are the MQTT topic filters whose messages are taken as
	// integration.mqtt.received events. Default: none.
	Topics []string `yaml:"topics,omitempty"`
	// LegacyTelemetry are the MQTT topic filters whose messages are
	// plain telemetry objects of the platform's old format
	// ({"temperature":21.5}), adapted into device.telemetry (see
	// Message.Legacy). None may overlap one of Topics. Default: none.
	LegacyTelemetry []string `yaml:"legacyTelemetry,omitempty"`
	// MaxMessageBytes bounds a message taken; larger ones are left out
	// and counted. Default 64KiB; 1B to 1MiB.
	MaxMessageBytes confkeys.Size `yaml:"maxMessageBytes,omitempty" limit:"1B..1MiB"`
	// RatePerClient is how many messages a second a client's may be
	// taken, with bursts of BurstPerClient; the rest are left out and
	// counted. Defaults 10 and 20; (0, 10000] and 1 to 10000.
	RatePerClient  float64 `yaml:"ratePerClient,omitempty"`
	BurstPerClient int     `yaml:"burstPerClient,omitempty" limit:"1..10000"`
	// RateTotal is how many messages a second all clients' together may
	// be taken, with bursts of BurstTotal, whatever their number; the
	// rest are left out and counted. Defaults 100 and 200; (0, 100000]
	// and 1 to 100000.
	RateTotal  float64 `yaml:"rateTotal,omitempty"`
	BurstTotal int     `yaml:"burstTotal,omitempty" limit:"1..100000"`
}

// Defaults of Integrate.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultRatePerClient   = 10
	DefaultBurstPerClient  = 20
	DefaultRateTotal       = 100
	DefaultBurstTotal      = 200
)

// setDefaults fills in the keys left out of in.
func (in *Integrate) setDefaults() {
	confkeys.SetDefault(&in.MaxMessageBytes, DefaultMaxMessageBytes)
	confkeys.SetDefault(&in.RatePerClient, DefaultRatePerClient)
	confkeys.SetDefault(&in.BurstPerClient, DefaultBurstPerClient)
	confkeys.SetDefault(&in.RateTotal, DefaultRateTotal)
	confkeys.SetDefault(&in.BurstTotal, DefaultBurstTotal)
}

// takes reports whether in takes any message.
func (in Integrate) takes() bool { return len(in.Topics)+len(in.LegacyTelemetry) > 0 }

// validate reports the first key of in, defaults filled in, that is
// wrong; with no topics, nothing is taken and nothing checked.
func (in Integrate) validate() error {
	if !in.takes() {
		return nil
	}
	for _, key := range []struct {
		name    string
		filters []string
	}{{"topics", in.Topics}, {"legacyTelemetry", in.LegacyTelemetry}} {
		for i, f := range key.filters {
			if err := checkFilter(f); err != nil {
				return confkeys.Invalid(fmt.Sprintf("integrate.%s[%d]", key.name, i), "%q: %v", f, err)
			}
		}
	}
	for i, l := range in.LegacyTelemetry {
		for j, f := range in.Topics {
			if overlap(l, f) {
				return confkeys.Invalid(fmt.Sprintf("integrate.legacyTelemetry[%d]", i),
					"%q overlaps integrate.topics[%d] %q: a message on both would be adapted and taken as is; make them disjoint", l, j, f)
			}
		}
	}
	switch {
	case in.RatePerClient <= 0 || in.RatePerClient > 10000:
		return confkeys.Invalid("integrate.ratePerClient", "%v is outside (0, 10000]", in.RatePerClient)
	case in.RateTotal <= 0 || in.RateTotal > 100000:
		return confkeys.Invalid("integrate.rateTotal", "%v is outside (0, 100000]", in.RateTotal)
	}
	return nil
}

// Message is a client's message the broker hands to OnMessage.
type Message struct {
	// Client is the publishing client's MQTT client id.
	Client string
	// Topic is the topic it published on.
	Topic string
	// Payload is the message's body, the broker's: copy it to keep it.
	Payload []byte
	// QoS is the publish's quality of service, 0 to 2.
	QoS byte
	// ReceivedAt is when the broker received it.
	ReceivedAt time.Time
	// Legacy: the message came on one of Integrate.LegacyTelemetry's
	// filters, and is to be adapted.
	Legacy bool
}
