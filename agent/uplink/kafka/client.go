package kafka

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/iot-hub/agent/internal/lograte"
)

// maxBatchBytes is the largest record batch the producer builds (franz-go's
// default, under Kafka's default max.message.bytes of 1 MiB + 12); a
// record that cannot fit a batch alone is quarantined without being sent.
const maxBatchBytes = 1_000_012

// commonOpts are the options of both clients: the connection's
// (connOpts), logging, the connection-state hooks, and the uplink's
// retryBackoff for franz-go's retries. franz-go's own backoff waits
// 250 ms doubling to 5 s, jittered by ±20% but not once it reaches 5 s: a
// fleet that lost the brokers at the same instant would come back nearly
// in step, over half of it within the same second.
func (u *Uplink) commonOpts() []kgo.Opt {
	var tc *tls.Config
	if u.cfg.TLS != nil {
		tc = u.cfg.TLS.Clone()
	}
	return append(u.connOpts(tc), kgo.WithLogger(kgoLogger{u.lines}), kgo.WithHooks(stateHook{u}), kgo.RetryBackoffFn(retryBackoff))
}

// connOpts are what a connection to the brokers takes: brokers,
// identity, TLS with tc (none when nil), SASL.
func (u *Uplink) connOpts(tc *tls.Config) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(u.cfg.Brokers...),
		kgo.ClientID(u.cfg.ClientID),
		kgo.DialTimeout(u.cfg.ConnectTimeout),
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := u.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// codecs are franz-go's codecs of Config.Compression.
var codecs = map[string]kgo.CompressionCodec{
	CompressionNone:   kgo.NoCompression(),
	CompressionGzip:   kgo.GzipCompression(),
	CompressionSnappy: kgo.SnappyCompression(),
	CompressionLZ4:    kgo.Lz4Compression(),
	CompressionZstd:   kgo.ZstdCompression(),
}

// producerOpts: idempotent (franz-go's default), acks from all in-sync
// replicas, keys partitioned by murmur2 as Kafka's Java client does, and
// manual flushing: the drain buffers a whole round before anything of it
// is sent (see producer.go); batches compressed with Config.Compression
// alone (franz-go would fall back to others). Retries are unlimited and there is no
// delivery timeout: a record leaves the client acknowledged or refused.
func (u *Uplink) producerOpts() []kgo.Opt {
	return append(u.commonOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ManualFlushing(),
		kgo.MaxBufferedRecords(u.cfg.Window),
		kgo.ProducerBatchMaxBytes(maxBatchBytes),
		kgo.ProducerBatchCompression(codecs[u.cfg.Compression]),
	)
}

// saslMechanism returns the configured mechanism, or nil.
func (u *Uplink) saslMechanism() sasl.Mechanism {
	s := u.cfg.SASL
	switch s.Mechanism {
	case MechanismPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()
	case MechanismSCRAMSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()
	case MechanismSCRAMSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()
	}
	return nil
}

// kgoLogger passes franz-go's warnings and errors to the uplink's
// limited lines, keyed by message: while a broker is down, franz-go warns
// on every attempt to reach it. Its info and debug lines (every metadata
// refresh, every flush) would flood a gateway's journal.
type kgoLogger struct{ lines *lograte.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	l.lines.Log(context.Background(), lvl, "franz-go "+msg, "kafka: "+msg, keyvals...)
}

// stateHook follows the exchanges with the brokers for State: a request
// answered means connected; a connection that cannot be made, or a
// request that fails on the wire, means not.
type stateHook struct{ u *Uplink }

var (
	_ kgo.HookBrokerConnect = stateHook{}
	_ kgo.HookBrokerRead    = stateHook{}
)

func (h stateHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.u.setConnected(false)
	}
}

func (h stateHook) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	h.u.setConnected(err == nil)
}
