package broker_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/confkeys"
)

// login connects an MQTT v5 client to addr as user with password (each
// left out when ""), and returns it with its messages, or the CONNACK's
// error.
func login(t *testing.T, addr, id, user, password string) (*paho.Client, <-chan *paho.Publish, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return loginOn(t, conn, id, user, password)
}

// loginOn is login on conn, which it closes when the CONNECT fails, and
// else when the test ends.
func loginOn(t *testing.T, conn net.Conn, id, user, password string) (*paho.Client, <-chan *paho.Publish, error) {
	t.Helper()
	msgs := make(chan *paho.Publish, 16)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { msgs <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.UsernameFlag, cp.Username = true, user
	}
	if password != "" {
		cp.PasswordFlag, cp.Password = true, []byte(password)
	}
	if _, err := c.Connect(ctx, cp); err != nil {
		conn.Close()
		return nil, nil, err
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c, msgs, nil
}

// TestUsersAndTheirFilters: with users configured, a wrong password or
// an unknown user is refused; a user publishes and subscribes within
// its filters only.
func TestUsersAndTheirFilters(t *testing.T) {
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0", Users: []broker.User{
		{Username: "meter-1", Password: "s3cret-meter", Publish: []string{"meters/1/#"}},
		{Username: "agent", Password: "s3cret-agent", Subscribe: []string{"meters/+/power"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, bad := range [][2]string{{"meter-1", "wrong-password"}, {"nobody", "s3cret-meter"}, {"", ""}} {
		if _, _, err := login(t, b.Addr(), "x", bad[0], bad[1]); err == nil {
			t.Errorf("user %q, password %q: connected; want refused", bad[0], bad[1])
		}
	}
	agent, msgs, err := login(t, b.Addr(), "agent", "agent", "s3cret-agent")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		filter string
		ok     bool
	}{{"meters/+/power", true}, {"meters/1/power", true}, {"meters/#", false}, {"meters/+/+", false}, {"other/x", false}} {
		ack, err := agent.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: tc.filter, QoS: 1}}})
		granted := err == nil && len(ack.Reasons) == 1 && ack.Reasons[0] < 0x80
		if granted != tc.ok {
			t.Errorf("subscribe %q: granted %v (%v, %+v); want %v", tc.filter, granted, err, ack, tc.ok)
		}
	}
	meter, _, err := login(t, b.Addr(), "meter-1", "meter-1", "s3cret-meter")
	if err != nil {
		t.Fatal(err)
	}
	onlyOwnArrives(t, meter, msgs, "meters/2/power", "meters/1/power")
}

// onlyOwnArrives has meter publish on other, outside its filters, then on
// own, and checks that msgs, a subscriber's, receives own's alone.
func onlyOwnArrives(t *testing.T, meter *paho.Client, msgs <-chan *paho.Publish, other, own string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = meter.Publish(ctx, &paho.Publish{Topic: other, QoS: 1, Payload: []byte(other)}) // refused, or dropped
	if _, err := meter.Publish(ctx, &paho.Publish{Topic: own, QoS: 1, Payload: []byte(own)}); err != nil {
		t.Fatalf("publish %s: %v", own, err)
	}
	select {
	case m := <-msgs:
		if m.Topic != own {
			t.Errorf("received %s; want only %s, the meter's own", m.Topic, own)
		}
	case <-ctx.Done():
		t.Fatal("the meter's own publish did not arrive")
	}
	select {
	case m := <-msgs:
		t.Errorf("received %s too; want one message", m.Topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestUsersValidate: Validate refuses a user that is wrong, naming its
// key: a certificate user needs tls.clientCAFile and no password; names
// and certificate CNs are unique.
func TestUsersValidate(t *testing.T) {
	withCA := broker.TLS{CertFile: "broker.pem", KeyFile: "broker.key", ClientCAFile: "ca.pem"}
	for _, tc := range []struct {
		tls   broker.TLS
		users []broker.User
		want  string
	}{
		{broker.TLS{}, []broker.User{{Username: "a", Password: "12345678", Publish: []string{"x/+/y", "z/#"}}}, ""},
		{broker.TLS{}, []broker.User{{Password: "12345678"}}, "users[0].username: required"},
		{broker.TLS{}, []broker.User{{Username: "a", Password: "short"}}, "users[0].password: required"},
		{broker.TLS{}, []broker.User{{Username: "a", Password: "12345678"}, {Username: "a", Password: "12345678"}}, "users[1].username"},
		{broker.TLS{}, []broker.User{{Username: "a", Password: "12345678", Subscribe: []string{"x/#/y"}}}, "users[0].subscribe[0]"},
		{broker.TLS{}, []broker.User{{Username: "a", Password: "12345678", Publish: []string{"x+"}}}, "users[0].publish[0]"},
		{broker.TLS{}, []broker.User{{CertificateCN: "m-7"}}, "users[0].certificateCN: needs tls.clientCAFile"},
		{withCA, []broker.User{{CertificateCN: "m-7", Publish: []string{"m/7/#"}}, {Username: "a", Password: "12345678"}}, ""},
		{withCA, []broker.User{{CertificateCN: "m-7", Password: "12345678"}}, "users[0].password: set beside certificateCN"},
		{withCA, []broker.User{{CertificateCN: "m-7"}, {Username: "m-7", Password: "12345678"}}, `users[1].username: "m-7" is another user's too`},
		{withCA, []broker.User{{CertificateCN: "m-7"}, {Username: "b", CertificateCN: "m-7"}}, `users[1].certificateCN: "m-7" is another user's too`},
	} {
		s := broker.Settings{Enabled: true, Listen: "0.0.0.0:1883", TLS: tc.tls, Users: slices.Clone(tc.users)}
		s.SetDefaults()
		err := s.Validate()
		e, ok := errors.AsType[*confkeys.FieldError](err)
		if tc.want == "" && err != nil || tc.want != "" && (!ok || !strings.HasPrefix(e.Error(), tc.want) || !errors.Is(err, confkeys.ErrInvalid)) {
			t.Errorf("Validate(%+v, TLS %+v) = %v; want an error %q", tc.users, tc.tls, err, tc.want)
		}
	}
	s := broker.Settings{Users: []broker.User{{CertificateCN: "m-7"}}}
	if s.SetDefaults(); s.Users[0].Username != "m-7" {
		t.Errorf("SetDefaults(): a certificate user's username %q; want its CN, m-7", s.Users[0].Username)
	}
}
