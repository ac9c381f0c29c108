package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client connects an MQTT v5 client to addr, without credentials;
// received messages go to the returned channel.
func client(t *testing.T, addr, id string) (*paho.Client, <-chan *paho.Publish) {
	t.Helper()
	c, msgs, err := login(t, addr, id, "", "")
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c, msgs
}

func TestPublishRetainedAndClose(t *testing.T) {
	var logs bytes.Buffer
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") || b.URL() != "mqtt://"+b.Addr() {
		t.Errorf("Addr() = %q, URL() = %q; want the bound loopback port", b.Addr(), b.URL())
	}
	func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pub, _ := client(t, b.Addr(), "pub")
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "a/status", QoS: 1, Retain: true, Payload: []byte("online"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "eventType", Value: "x"}}}}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		sub, msgs := client(t, b.Addr(), "sub")
		if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/+", QoS: 1}}}); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		select {
		case m := <-msgs:
			if m.Topic != "a/status" || string(m.Payload) != "online" || !m.Retain {
				t.Errorf("got %s %q retain %v; want the retained a/status online", m.Topic, m.Payload, m.Retain)
			}
		case <-ctx.Done():
			t.Fatal("no retained message")
		}
	}()
	if err := b.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if strings.Contains(logs.String(), "level=INFO") {
		t.Errorf("the broker logged below warn level:\n%s", logs.String())
	}
}

func TestListenError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: l.Addr().String()}}); err == nil {
		b.Close()
		t.Fatalf("Start on a taken port = nil; want an error")
	}
}

func TestLogsSessionsAtDebug(t *testing.T) {
	var logs syncbuf.Buffer
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A client that hangs up before CONNECT ends its session with an
	// error, which mochi's listener logs with an empty message.
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	const want = `level=DEBUG msg="broker: client session ended"`
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the broker's log lacks %s:\n%s", want, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Clients that each make the broker warn (a keepalive below mochi's
// minimum) get one line a minute between them, not one each.
func TestClientWarningsAreLoggedOnceAMinute(t *testing.T) {
	var logs syncbuf.Buffer
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	const n = 50
	for i := range n {
		conn, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.ClientConfig{Conn: conn})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.Connect(ctx, &paho.Connect{ClientID: fmt.Sprint("low-keepalive-", i), CleanStart: true, KeepAlive: 1})
		cancel()
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		_ = c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	}
	elapsed := time.Since(start)
	lines := strings.Count(logs.String(), `msg="broker: client keepalive is below`)
	if most := 1 + int(elapsed/lograte.DefaultInterval); lines < 1 || lines > most {
		t.Errorf("%d clients with a low keepalive in %v: %d lines; want 1 to %d:\n%s", n, elapsed, lines, most, logs.String())
	}
}
