package kafka_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/testpki"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// TestSettings: the keys of uplink.kafka take their defaults (the old
// commandsTopic moving to topics.commands), Validate refuses a wrong one
// as a *confkeys.FieldError at the key, and Config carries them to the
// uplink's configuration, with TLS read from the files.
func TestSettings(t *testing.T) {
	s := kafka.Settings{Brokers: []string{"k:9092"}, CommandsTopic: "old.commands"}
	s.SetDefaults()
	d := kafka.DefaultConfig()
	if s.Topics.Commands != "old.commands" || s.CommandsTopic != "" || s.Topics.DLQ != kafka.TopicName(d.Topics.DLQ) || s.Compression != d.Compression ||
		s.Partitioner != kafka.PartitionerMurmur2 || s.CommandsPartitions != kafka.CommandsOwn || s.ConnectTimeout != d.ConnectTimeout {
		t.Errorf("SetDefaults() = %+v; want the defaults, commandsTopic under topics", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v; want nil", err)
	}
	for _, tt := range []struct {
		change    func(*kafka.Settings)
		path, msg string
	}{
		{func(s *kafka.Settings) { s.Partitioner = "murmur2_random" }, "partitioner", `"murmur2_random": want murmur2 or legacy`},
		{func(s *kafka.Settings) { s.Brokers = []string{"k:9092", "k:0"} }, "brokers[1]", `"k:0" is not host:port`},
		{func(s *kafka.Settings) { s.CAFile = "ca.pem" }, "tls", "false, but caFile, certFile or keyFile is set: set tls: true"},
		{func(s *kafka.Settings) { s.SASL = kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA256, User: "u"} }, "sasl.password", "required with mechanism SCRAM-SHA-256"},
		{func(s *kafka.Settings) {
			s.SASL = kafka.SASL{Mechanism: kafka.MechanismPlain, User: "u", Password: "p"}
		}, "sasl.mechanism", "PLAIN sends the password as it is: it needs tls: true"},
		{func(s *kafka.Settings) { s.CommandsTopic = "x" }, "commandsTopic", "set topics.commands only: commandsTopic is its old name"},
		{func(s *kafka.Settings) { s.Topics.Users = "" }, "topics.users", "empty: a topic needs a name"},
		{func(s *kafka.Settings) { s.Topics.DLQ = s.Topics.Events }, "topics.dlq", `"device.events" is also the name of uplink.kafka.topics.events: each topic needs its own`},
	} {
		bad := s
		tt.change(&bad)
		err := bad.Validate()
		if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Path != tt.path || e.Msg != tt.msg || !errors.Is(err, confkeys.ErrInvalid) {
			t.Errorf("Validate(%+v) = %#v; want a *confkeys.FieldError at %s: %s", bad, err, tt.path, tt.msg)
		}
	}

	dir := t.TempDir()
	ca := testpki.NewCA(t, "kafka CA")
	_, certPEM, keyPEM := ca.Client(t, device)
	s.TLS, s.CAFile, s.CertFile, s.KeyFile = true, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "gw.pem"), filepath.Join(dir, "gw.key")
	for file, data := range map[string][]byte{s.CAFile: ca.PEM, s.CertFile: certPEM, s.KeyFile: keyPEM} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.SASL, s.ConnectTimeout = kafka.SASL{Mechanism: kafka.MechanismPlain, User: "u", Password: "p"}, time.Minute
	cfg, err := s.Config()
	if err != nil || cfg.TLS == nil || !cfg.TLS.RootCAs.Equal(ca.Pool) || len(cfg.TLS.Certificates) != 1 || len(cfg.Brokers) != 1 || cfg.SASL != s.SASL ||
		cfg.Topics.Commands != "old.commands" || cfg.Topics.DLQ != d.Topics.DLQ || cfg.ConnectTimeout != time.Minute || cfg.Partitioner != kafka.PartitionerMurmur2 {
		t.Errorf("Config() = %+v, %v; want the settings, TLS from the files", cfg, err)
	}
	s.CertFile = filepath.Join(dir, "missing.pem")
	_, err = s.Config()
	if _, ok := errors.AsType[*tlsfiles.Error](err); !ok {
		t.Errorf("Config() with a missing certificate = %v; want a *tlsfiles.Error", err)
	}
}
