package health_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/health/healthtest"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/agent/uplink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeUplink is an uplink's state the test sets.
type fakeUplink struct {
	mu sync.Mutex
	st uplink.State
}

func (u *fakeUplink) state() uplink.State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.st
}

func (u *fakeUplink) set(st uplink.State) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.st = st
}

// rig is a server running on 127.0.0.1:0 over a real outbox, a real
// sampler of two fake sensors (one failing) and a fake uplink.
type rig struct {
	base    string // http://addr
	box     *outbox.Store
	sampler *sensors.Sampler
	uplink  *fakeUplink
	metrics *health.Metrics
	clock   *clocktest.Clock
	cert    *x509.Certificate
	stop    func() error // stops Run and returns its error
}

var start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{uplink: &fakeUplink{}, metrics: health.NewMetrics(), clock: clocktest.New(start)}
	box := openBox(t)
	r.box = box
	var err error
	r.sampler, err = sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw-test"}, box,
		sensors.Schedule{Sensor: sensorstest.New("bme"), Interval: time.Hour},
		sensors.Schedule{Sensor: sensorstest.New("mcu", sensorstest.Result{Err: errors.New("no answer")}), Interval: time.Hour},
		sensors.Schedule{Sensor: sensorstest.New("idle"), Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r.cert = selfSigned(t, start.Add(30*24*time.Hour))
	r.base, r.stop = serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}, Clock: r.clock}, health.Sources{
		Version:     "1.2.3",
		Uplink:      r.uplink.state,
		Outbox:      box,
		Sensors:     r.sampler,
		Certificate: func() *x509.Certificate { return r.cert },
	}, r.metrics)
	return r
}

// selfSigned returns a certificate valid until notAfter.
func selfSigned(t *testing.T, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "gw-test"},
		NotBefore: start.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get fetches path and returns the status, the content type and the body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// healthz is /healthz's body as a client reads it.
type healthz struct {
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
	Uplink   *struct {
		Connected  bool   `json:"connected"`
		Since      string `json:"since"`
		Broker     string `json:"broker"`
		Reconnects int    `json:"reconnects"`
	} `json:"uplink"`
	Outbox *struct {
		Error            string  `json:"error"`
		ControlDepth     int     `json:"controlDepth"`
		TelemetryDepth   int     `json:"telemetryDepth"`
		Bytes            int64   `json:"bytes"`
		OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
		DroppedCap       uint64  `json:"droppedCap"`
		Quarantined      int     `json:"quarantined"`
	} `json:"outbox"`
	Sensors *struct {
		Total   int      `json:"total"`
		OK      int      `json:"ok"`
		Failing []string `json:"failing"`
		Unknown int      `json:"unknown"`
	} `json:"sensors"`
}

func (r *rig) healthz(t *testing.T) (int, healthz) {
	t.Helper()
	code, ctype, body := get(t, r.base+"/healthz")
	if ctype != "application/json" {
		t.Errorf("/healthz Content-Type %q; want application/json", ctype)
	}
	var h healthz
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/healthz body %s: %v", body, err)
	}
	return code, h
}

func (r *rig) metricsText(t *testing.T) *healthtest.Exposition {
	t.Helper()
	code, ctype, body := get(t, r.base+"/metrics")
	if code != http.StatusOK || ctype != health.ContentType {
		t.Fatalf("/metrics = %d, %q; want 200, %q", code, ctype, health.ContentType)
	}
	e, err := healthtest.Parse(body)
	if err != nil {
		t.Fatalf("/metrics is not well-formed: %v\n%s", err, body)
	}
	return e
}

func TestHealthz(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.uplink.set(uplink.State{Connected: true, Since: start, Broker: "mqtt://127.0.0.1:1883", Reconnects: 2})
	if _, err := r.sampler.ReadNow(ctx, "bme", "mcu"); err != nil { // idle is never read: unknown
		t.Fatal(err)
	}

	code, h := r.healthz(t)
	if code != http.StatusOK || h.Status != "ok" || len(h.Problems) != 0 {
		t.Fatalf("/healthz = %d %+v; want 200 ok without problems", code, h)
	}
	if u := h.Uplink; u == nil || !u.Connected || u.Since != "2026-11-27T10:00:00.000Z" || u.Broker != "mqtt://127.0.0.1:1883" || u.Reconnects != 2 {
		t.Errorf("/healthz uplink = %+v; want connected since 10:00 to the broker, 2 reconnects", u)
	}
	if o := h.Outbox; o == nil || o.Error != "" || o.TelemetryDepth != 1 || o.ControlDepth != 0 || o.Bytes <= 0 {
		t.Errorf("/healthz outbox = %+v; want the one reading of bme waiting", o)
	}
	if s := h.Sensors; s == nil || s.Total != 3 || s.OK != 1 || s.Unknown != 1 || len(s.Failing) != 1 || s.Failing[0] != "mcu" {
		t.Errorf("/healthz sensors = %+v; want 3, 1 ok, mcu failing, 1 unknown", s)
	}

	t.Run("uplink down within the grace", func(t *testing.T) {
		r.uplink.set(uplink.State{Connected: false, Since: r.clock.Now(), Broker: "mqtt://127.0.0.1:1883"})
		r.clock.Advance(health.DefaultGrace)
		if code, h := r.healthz(t); code != http.StatusOK || h.Status != "ok" {
			t.Errorf("/healthz %v after the uplink went down = %d %+v; want 200 ok", health.DefaultGrace, code, h)
		}
	})
	t.Run("uplink down past the grace", func(t *testing.T) {
		r.clock.Advance(time.Second)
		code, h := r.healthz(t)
		if code != http.StatusServiceUnavailable || h.Status != "unhealthy" || len(h.Problems) != 1 ||
			!strings.Contains(h.Problems[0], "uplink: disconnected from mqtt://127.0.0.1:1883 for 1m1s") {
			t.Errorf("/healthz past the grace = %d %+v; want 503 unhealthy: uplink disconnected for 1m1s", code, h)
		}
		if e := r.metricsText(t); !has(e, "iot_hub_agent_healthy", 0) || !has(e, "iot_hub_agent_uplink_connected", 0) {
			t.Errorf("/metrics past the grace: healthy and connected should be 0")
		}
		r.uplink.set(uplink.State{Connected: true, Since: r.clock.Now(), Broker: "mqtt://127.0.0.1:1883", Reconnects: 3})
		if code, h := r.healthz(t); code != http.StatusOK || h.Status != "ok" {
			t.Errorf("/healthz once reconnected = %d %+v; want 200 ok", code, h)
		}
	})
	t.Run("outbox closed", func(t *testing.T) {
		if err := r.box.Close(); err != nil {
			t.Fatal(err)
		}
		code, h := r.healthz(t)
		if code != http.StatusServiceUnavailable || h.Status != "unhealthy" || len(h.Problems) != 1 ||
			!strings.Contains(h.Problems[0], "outbox: cannot be read") || h.Outbox == nil || !strings.Contains(h.Outbox.Error, "closed") {
			t.Errorf("/healthz with the outbox closed = %d %+v; want 503: the outbox cannot be read", code, h)
		}
		e := r.metricsText(t)
		if _, ok := e.Families["iot_hub_agent_outbox_depth"]; ok || !has(e, "iot_hub_agent_healthy", 0) {
			t.Errorf("/metrics with the outbox closed: want no outbox families, healthy 0")
		}
	})
}

// TestHealthzNeverConnected: an uplink that never connected counts as
// down since the server started.
func TestHealthzNeverConnected(t *testing.T) {
	r := newRig(t)
	if code, _ := r.healthz(t); code != http.StatusOK {
		t.Errorf("/healthz at the start, not connected yet = %d; want 200", code)
	}
	r.clock.Advance(health.DefaultGrace + time.Second)
	if code, h := r.healthz(t); code != http.StatusServiceUnavailable || len(h.Problems) != 1 || !strings.Contains(h.Problems[0], "for 1m1s") {
		t.Errorf("/healthz never connected, past the grace = %d %+v; want 503, down for 1m1s", code, h)
	}
}

// has reports whether family fam has an unlabelled sample of value v.
func has(e *healthtest.Exposition, fam string, v float64) bool {
	got, ok := e.Value(fam)
	return ok && got == v
}

func TestMetrics(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.uplink.set(uplink.State{Connected: true, Since: start, Broker: "mqtt://b", Reconnects: 4})
	for range 3 {
		if _, err := r.sampler.ReadNow(ctx, "mcu"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.sampler.ReadNow(ctx, "bme"); err != nil {
		t.Fatal(err)
	}
	r.metrics.Published(outbox.LaneTelemetry, 3*time.Millisecond) // le 0.005
	r.metrics.Published(outbox.LaneTelemetry, 5*time.Millisecond) // le 0.005: bounds are inclusive
	r.metrics.Published(outbox.LaneControl, 2*time.Hour)          // +Inf only
	r.metrics.Published(outbox.LaneTelemetry, -time.Second)       // a clock set back: 0
	r.metrics.Published(outbox.Lane(7), time.Second)              // not a lane: not counted
	r.metrics.RPC("getSensors", "OK", 2*time.Millisecond)
	r.metrics.RPC("getSensors", "OK", 20*time.Millisecond)
	r.metrics.RPC("getSensors", "BUSY", 0)
	r.metrics.RPC("(unknown)", "METHOD_NOT_FOUND", time.Millisecond)

	e := r.metricsText(t)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iot_hub_agent_info", []string{"version", "1.2.3"}, 1},
		{"iot_hub_agent_healthy", nil, 1},
		{"iot_hub_agent_uplink_connected", nil, 1},
		{"iot_hub_agent_uplink_reconnects_total", nil, 4},
		{"iot_hub_agent_outbox_depth", []string{"lane", "telemetry"}, 1},
		{"iot_hub_agent_outbox_depth", []string{"lane", "control"}, 0},
		{"iot_hub_agent_outbox_dropped_total", []string{"reason", "cap"}, 0},
		{"iot_hub_agent_outbox_dropped_total", []string{"reason", "expired"}, 0},
		{"iot_hub_agent_outbox_dropped_total", []string{"reason", "refused"}, 0},
		{"iot_hub_agent_outbox_quarantined", nil, 0},
		{"iot_hub_agent_outbox_oldest_age_seconds", []string{"lane", "control"}, 0},
		{"iot_hub_agent_published_total", []string{"lane", "telemetry"}, 3},
		{"iot_hub_agent_published_total", []string{"lane", "control"}, 1},
		{"iot_hub_agent_publish_latency_seconds_bucket", []string{"le", "0.005"}, 3},
		{"iot_hub_agent_publish_latency_seconds_bucket", []string{"le", "3600"}, 3},
		{"iot_hub_agent_publish_latency_seconds_bucket", []string{"le", "+Inf"}, 4},
		{"iot_hub_agent_publish_latency_seconds_count", nil, 4},
		{"iot_hub_agent_publish_latency_seconds_sum", nil, 7200.008},
		{"iot_hub_agent_rpc_commands_total", []string{"method", "getSensors", "code", "OK"}, 2},
		{"iot_hub_agent_rpc_commands_total", []string{"method", "getSensors", "code", "BUSY"}, 1},
		{"iot_hub_agent_rpc_commands_total", []string{"method", "(unknown)", "code", "METHOD_NOT_FOUND"}, 1},
		{"iot_hub_agent_rpc_duration_seconds_bucket", []string{"method", "getSensors", "le", "0.001"}, 1},
		{"iot_hub_agent_rpc_duration_seconds_bucket", []string{"method", "getSensors", "le", "0.0025"}, 2},
		{"iot_hub_agent_rpc_duration_seconds_count", []string{"method", "getSensors"}, 3},
		{"iot_hub_agent_rpc_duration_seconds_sum", []string{"method", "getSensors"}, 0.022},
		{"iot_hub_agent_sensor_read_errors_total", []string{"sensor", "mcu"}, 3},
		{"iot_hub_agent_sensor_read_errors_total", []string{"sensor", "bme"}, 0},
		{"iot_hub_agent_sensor_read_errors_total", []string{"sensor", "idle"}, 0},
		{"iot_hub_agent_certificate_days_left", nil, 30},
	}
	for _, tt := range tests {
		got, ok := e.Value(tt.name, tt.labels...)
		if !ok || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s%v = %v (present %v); want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	types := map[string]string{
		"iot_hub_agent_outbox_bytes": "gauge", "iot_hub_agent_published_total": "counter",
		"iot_hub_agent_publish_latency_seconds": "histogram", "iot_hub_agent_rpc_duration_seconds": "histogram",
		"iot_hub_agent_certificate_days_left": "gauge", "iot_hub_agent_uplink_reconnects_total": "counter",
	}
	for fam, typ := range types {
		if f := e.Families[fam]; f == nil || f.Type != typ {
			t.Errorf("family %s: %+v; want a %s", fam, f, typ)
		}
	}
}

// TestMetricsWithoutParts: parts the agent does not have (no uplink, no
// sensors, no certificate) have no families, and the rest is still
// well-formed, RPC families declared without samples.
func TestMetricsWithoutParts(t *testing.T) {
	base, _ := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{}, nil)
	_, _, body := get(t, base+"/metrics")
	e, err := healthtest.Parse(body)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, body)
	}
	for _, fam := range []string{"iot_hub_agent_info", "iot_hub_agent_uplink_connected", "iot_hub_agent_outbox_depth",
		"iot_hub_agent_sensor_read_errors_total", "iot_hub_agent_certificate_days_left"} {
		if _, ok := e.Families[fam]; ok {
			t.Errorf("/metrics has %s; want none without its part", fam)
		}
	}
	if f := e.Families["iot_hub_agent_rpc_commands_total"]; f == nil || len(f.Samples) != 0 {
		t.Errorf("rpc_commands_total = %+v; want declared, no samples", f)
	}
	if code, _, body := get(t, base+"/healthz"); code != http.StatusOK || !strings.Contains(body, `"status":"ok"`) {
		t.Errorf("/healthz of an agent of no parts = %d %s; want 200 ok", code, body)
	}
}

func TestRoutes(t *testing.T) {
	r := newRig(t)
	if code, _, _ := get(t, r.base+"/"); code != http.StatusNotFound {
		t.Errorf("GET / = %d; want 404", code)
	}
	resp, err := http.Post(r.base+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d; want 405", resp.StatusCode)
	}
	resp, err = http.Head(r.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /healthz = %d; want 200", resp.StatusCode)
	}
}

// TestRunStops: once its context ends, Run returns nil and the port is
// closed.
func TestRunStops(t *testing.T) {
	r := newRig(t)
	if code, _, _ := get(t, r.base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d; want 200", code)
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
	http.DefaultClient.CloseIdleConnections()
	if resp, err := http.Get(r.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after the stop = %d; want the connection refused", resp.StatusCode)
	}
}

// TestClose: a server that is not run is closed; its port is free again.
func TestClose(t *testing.T) {
	srv, err := health.Listen(health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	if err := srv.Close(); err != nil {
		t.Errorf("Close = %v; want nil", err)
	}
	again, err := health.Listen(health.Config{Settings: health.Settings{Listen: addr}}, health.Sources{}, nil)
	if err != nil {
		t.Fatalf("Listen(%s) after Close = %v; want the port free", addr, err)
	}
	if err := again.Run(canceled()); err != nil {
		t.Errorf("Run(canceled) = %v; want nil", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// serve runs a server of src and m until the test ends, and returns its
// base URL and stop, which ends Run (once) and returns Run's error; the
// test fails if Run returns an error, or does not return.
func serve(t *testing.T, cfg health.Config, src health.Sources, m *health.Metrics) (base string, stop func() error) {
	t.Helper()
	srv, err := health.Listen(cfg, src, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(health.ShutdownTimeout + 5*time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			http.DefaultClient.CloseIdleConnections()
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	})
	return "http://" + srv.Addr().String(), stop
}

// TestMetricsSalvaged: an outbox whose file was damaged (its newer meta
// page overwritten, so that Open salvages it, and a payload rotten) says
// in /metrics how many records it saved and lost: of the 10 records the
// older meta page's tree holds, 9 pass their checksum.
func TestMetricsSalvaged(t *testing.T) {
	box, path := outboxtest.Open(t, outbox.Config{})
	ctx := context.Background()
	var recs []outbox.Record
	for i := range 10 {
		recs = append(recs, outbox.Record{Lane: outbox.LaneTelemetry, Topic: "t", Payload: fmt.Appendf(nil, "salvaged-%d", i)})
	}
	if err := box.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if err := box.Append(ctx, outbox.Record{Lane: outbox.LaneTelemetry, Topic: "t", Payload: []byte("last commit")}); err != nil {
		t.Fatal(err)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Zero the meta page the last commit wrote: the one with the higher
	// txid (at 16+48 bytes into each page, little-endian).
	newer := 0
	if binary.LittleEndian.Uint64(data[4096+64:]) > binary.LittleEndian.Uint64(data[64:]) {
		newer = 1
	}
	clear(data[newer*4096 : newer*4096+4096])
	data = bytes.ReplaceAll(data, []byte("salvaged-3"), []byte("salvaged-X"))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	box = outboxtest.OpenAt(t, path, outbox.Config{})
	base, _ := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{Outbox: box}, health.NewMetrics())
	e := (&rig{base: base}).metricsText(t)
	for outcome, want := range map[string]float64{"saved": 9, "lost": 1} {
		if got, ok := e.Value("iot_hub_agent_outbox_salvaged_total", "outcome", outcome); !ok || got != want {
			t.Errorf("iot_hub_agent_outbox_salvaged_total{outcome=%q} = %v (present %v); want %v", outcome, got, ok, want)
		}
	}
	if f := e.Families["iot_hub_agent_outbox_salvaged_total"]; f == nil || f.Type != "counter" {
		t.Errorf("family iot_hub_agent_outbox_salvaged_total: %+v; want a counter", f)
	}
}

// TestMetricsPerUplink: with two uplinks, /metrics says what each has
// sent, had acknowledged and has still to send.
func TestMetricsPerUplink(t *testing.T) {
	box, _ := outboxtest.Open(t, outbox.Config{Uplinks: []string{"mqtt", "kafka"}})
	ctx := context.Background()
	for i := range 3 {
		r := outbox.Record{Lane: outbox.LaneTelemetry, Topic: "t", Payload: []byte{byte(i)}}
		if err := box.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	m := box.View("mqtt")
	es, err := m.TryNext(10, nil)
	if err != nil || len(es) != 3 {
		t.Fatalf("mqtt TryNext = %d, %v; want 3", len(es), err)
	}
	m.Ack(es[0].ID, es[1].ID)
	base, _ := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{Outbox: box}, health.NewMetrics())
	r := &rig{base: base}
	e := r.metricsText(t)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iot_hub_agent_uplink_records_total", []string{"uplink", "mqtt", "state", "sent"}, 3},
		{"iot_hub_agent_uplink_records_total", []string{"uplink", "mqtt", "state", "acked"}, 2},
		{"iot_hub_agent_uplink_records_total", []string{"uplink", "kafka", "state", "sent"}, 0},
		{"iot_hub_agent_uplink_queued", []string{"uplink", "mqtt"}, 1},
		{"iot_hub_agent_uplink_queued", []string{"uplink", "kafka"}, 3},
		{"iot_hub_agent_outbox_duplicates_total", nil, 0},
		{"iot_hub_agent_outbox_depth", []string{"lane", "telemetry"}, 3},
	} {
		if got, ok := e.Value(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v); want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if f := e.Families["iot_hub_agent_uplink_records_total"]; f == nil || f.Type != "counter" {
		t.Errorf("family iot_hub_agent_uplink_records_total: %+v; want a counter", f)
	}
}
