package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/confkeys"
)

// taker records the messages a broker hands to OnMessage; a legacy one
// whose payload is not "{...}" is Unadapted.
type taker struct {
	mu    sync.Mutex
	taken []broker.Message
}

func (tk *taker) onMessage(m broker.Message) (broker.Outcome, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	m.Payload = bytes.Clone(m.Payload)
	tk.taken = append(tk.taken, m)
	switch {
	case !m.Legacy:
		return broker.Taken, nil
	case bytes.HasPrefix(m.Payload, []byte("{")):
		return broker.Adapted, nil
	default:
		return broker.Unadapted, errors.New("not an object")
	}
}

func (tk *taker) messages() []broker.Message {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return append([]broker.Message(nil), tk.taken...)
}

// startIntegrating starts a broker that takes messages as in says.
func startIntegrating(t *testing.T, in broker.Integrate) (*broker.Broker, *taker) {
	t.Helper()
	tk := new(taker)
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0", Integrate: in}, OnMessage: tk.onMessage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, tk
}

// publisher returns a func that publishes at QoS 1 as client c.
func publisher(t *testing.T, c *paho.Client) func(topic string, payload []byte) {
	return func(topic string, payload []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
}

// TestIntegrateTakesWithinBounds: messages on the topics become events,
// a client's burst and rate bound them, a message too large is left
// out, and other topics are not taken; the counts say so, in all and
// for the client.
func TestIntegrateTakesWithinBounds(t *testing.T) {
	b, tk := startIntegrating(t, broker.Integrate{Topics: []string{"meters/#"}, MaxMessageBytes: 100, RatePerClient: 0.001, BurstPerClient: 3})
	c, _ := client(t, b.Addr(), "meter-1")
	publish := publisher(t, c)
	publish("other/x", []byte("1"))
	publish("meters/1/power", bytes.Repeat([]byte("x"), 101))
	for range 6 {
		publish("meters/1/power", []byte{0xff, 0x00})
	}
	taken := tk.messages()
	if len(taken) != 3 {
		t.Fatalf("taken %d messages; want 3, the client's burst", len(taken))
	}
	m := taken[0]
	if m.Client != "meter-1" || m.Topic != "meters/1/power" || m.QoS != 1 || !bytes.Equal(m.Payload, []byte{0xff, 0x00}) || m.Legacy || time.Since(m.ReceivedAt) > time.Minute {
		t.Errorf("taken %+v; want meter-1's message on meters/1/power", m)
	}
	st := b.Stats()
	want := counts(map[broker.Outcome]uint64{broker.Taken: 3, broker.TooLarge: 1, broker.OverRate: 3})
	if st.Integrate != want {
		t.Errorf("Stats().Integrate = %v; want 3 taken, 1 too large, 3 over the rate", st.Integrate)
	}
	if st.Connected != 1 || len(st.Clients) != 1 {
		t.Fatalf("Stats() = %+v; want 1 client connected, and its counts", st)
	}
	cs := st.Clients[0]
	if cs.ID != "meter-1" || !cs.Connected || cs.Counts != want || cs.LastOutcome != broker.OverRate || cs.ConsecutiveLeftOut != 3 ||
		!strings.Contains(cs.LastProblem, "ratePerClient") || cs.LastProblemAt != cs.LastAt {
		t.Errorf("Stats().Clients[0] = %+v; want meter-1 connected, its counts, the latest 3 over its rate", cs)
	}
}

// TestIntegrateLegacyTelemetry: a message on a legacyTelemetry filter
// is handed on to be adapted; one that cannot be is counted Unadapted,
// with its reason, and the client is then failing until a message is
// kept as it came.
func TestIntegrateLegacyTelemetry(t *testing.T) {
	b, tk := startIntegrating(t, broker.Integrate{Topics: []string{"raw/#"}, LegacyTelemetry: []string{"legacy/+/telemetry"}})
	c, _ := client(t, b.Addr(), "old-1")
	publish := publisher(t, c)
	publish("legacy/old-1/telemetry", []byte(`{"t":1}`))
	publish("legacy/old-1/telemetry", []byte(`garbage`))
	if cs := b.Stats().Clients[0]; cs.LastOutcome != broker.Unadapted || cs.ConsecutiveLeftOut != 1 || cs.LastProblem != "not an object" {
		t.Errorf("client after an unadapted message: %+v; want Unadapted, 1 in a row, why", cs)
	}
	publish("raw/1", []byte(`x`))
	got := tk.messages()
	if len(got) != 3 || !got[0].Legacy || !got[1].Legacy || got[2].Legacy {
		t.Fatalf("taken %+v; want two legacy messages, then a raw one", got)
	}
	st := b.Stats()
	if want := counts(map[broker.Outcome]uint64{broker.Adapted: 1, broker.Unadapted: 1, broker.Taken: 1}); st.Integrate != want {
		t.Errorf("Stats().Integrate = %v; want %v", st.Integrate, want)
	}
	if cs := st.Clients[0]; cs.LastOutcome != broker.Taken || cs.ConsecutiveLeftOut != 0 || cs.LastProblem != "not an object" {
		t.Errorf("client after a kept message: %+v; want Taken, 0 in a row, the last problem kept", cs)
	}
}

// TestIntegrateFailedIsAnsweredWithAnError: a message OnMessage fails
// to keep is answered with 0x83 and counted Failed.
func TestIntegrateFailedIsAnsweredWithAnError(t *testing.T) {
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0", Integrate: broker.Integrate{Topics: []string{"#"}}},
		OnMessage: func(broker.Message) (broker.Outcome, error) { return broker.Taken, errors.New("outbox full") }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, _ := client(t, b.Addr(), "d")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := c.Publish(ctx, &paho.Publish{Topic: "x", QoS: 1, Payload: []byte("1")}); resp == nil || resp.ReasonCode != 0x83 {
		t.Errorf("Publish = %+v, %v; want reason code 0x83", resp, err)
	}
	if st := b.Stats(); st.Integrate.Of(broker.Failed) != 1 || st.Clients[0].LastProblem != "outbox full" {
		t.Errorf("Stats() = %+v; want 1 failed, its error", st)
	}
}

// TestIntegrateTotalRateBoundsManyClients: several clients flooding at
// once, each within its own rate, are held together to the total.
func TestIntegrateTotalRateBoundsManyClients(t *testing.T) {
	const clients, each, burstTotal = 8, 25, 30
	b, tk := startIntegrating(t, broker.Integrate{Topics: []string{"flood/#"}, RatePerClient: 10000, BurstPerClient: 10000, RateTotal: 0.001, BurstTotal: burstTotal})
	var wg sync.WaitGroup
	for i := range clients {
		c, _ := client(t, b.Addr(), fmt.Sprint("flood-", i))
		publish := publisher(t, c)
		wg.Go(func() {
			for range each {
				publish(fmt.Sprintf("flood/%d", i), []byte("x"))
			}
		})
	}
	wg.Wait()
	if n := len(tk.messages()); n != burstTotal {
		t.Errorf("%d clients sent %d messages each: %d taken; want %d, the total burst", clients, each, n, burstTotal)
	}
	st := b.Stats()
	if st.Integrate.Of(broker.Taken) != burstTotal || st.Integrate.Of(broker.OverTotal) != clients*each-burstTotal || st.Integrate.Of(broker.OverRate) != 0 {
		t.Errorf("Stats().Integrate = %v; want %d taken, the rest over the total", st.Integrate, burstTotal)
	}
	if len(st.Clients) != clients || st.Connected != clients {
		t.Errorf("Stats(): %d clients reported, %d connected; want %d", len(st.Clients), st.Connected, clients)
	}
}

// TestIntegrateValidate: the integrate keys are checked, each error
// naming its key.
func TestIntegrateValidate(t *testing.T) {
	for _, tc := range []struct {
		in   broker.Integrate
		want string
	}{
		{broker.Integrate{Topics: []string{"a/#"}, LegacyTelemetry: []string{"b/+/t", "c"}}, ""},
		{broker.Integrate{Topics: []string{"a/+/raw"}, LegacyTelemetry: []string{"a/b/telemetry"}}, ""},
		{broker.Integrate{Topics: []string{"x", "a/#"}, LegacyTelemetry: []string{"a"}}, `integrate.legacyTelemetry[0]: "a" overlaps integrate.topics[1] "a/#"`},
		{broker.Integrate{Topics: []string{"+/raw"}, LegacyTelemetry: []string{"m/+"}}, `integrate.legacyTelemetry[0]: "m/+" overlaps integrate.topics[0] "+/raw"`},
		{broker.Integrate{LegacyTelemetry: []string{"a/#/b"}}, "integrate.legacyTelemetry[0]: "},
		{broker.Integrate{Topics: []string{"a"}, RateTotal: -1}, "integrate.rateTotal: -1 is outside (0, 100000]"},
		{broker.Integrate{LegacyTelemetry: []string{"a"}, RatePerClient: 20000}, "integrate.ratePerClient: 20000 is outside (0, 10000]"},
	} {
		s := broker.Settings{Enabled: true, Integrate: tc.in}
		s.SetDefaults()
		err := s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, confkeys.ErrInvalid)) {
			t.Errorf("Validate(%+v) = %v; want an error holding %q", tc.in, err, tc.want)
		}
	}
}

// counts makes IntegrateStats of counts by outcome.
func counts(by map[broker.Outcome]uint64) broker.IntegrateStats {
	var s broker.IntegrateStats
	for o, n := range by {
		s[o] = n
	}
	return s
}
