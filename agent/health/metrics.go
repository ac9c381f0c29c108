package health

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// Metrics counts what the agent's components report as it happens: the
// records published and their latency, the commands answered and their
// duration. Its methods are the components' hooks; they are safe for
// concurrent use and never block. Make it with NewMetrics.
type Metrics struct {
	published      [2]atomic.Uint64 // by lane: control, telemetry
	otherDevices   atomic.Uint64    // commands topic records for other devices
	publishLatency *histogram

	rpcMu sync.Mutex
	rpc   map[string]*rpcMethod // by method
}

// rpcMethod counts the answers to one method.
type rpcMethod struct {
	codes    map[string]uint64 // answers by code
	duration *histogram
}

// NewMetrics returns Metrics with every count at zero.
func NewMetrics() *Metrics {
	return &Metrics{publishLatency: newHistogram(publishBuckets...), rpc: map[string]*rpcMethod{}}
}

// Published counts a record the broker acknowledged, of lane, latency
// after its Append: the hook mqtt.Config.OnPublished and
// kafka.Config.OnPublished call per record. It costs three atomic adds
// and a binary search; a record of an unknown lane is not counted.
func (m *Metrics) Published(lane outbox.Lane, latency time.Duration) {
	if int(lane) >= len(m.published) {
		return
	}
	// The latency first: an exposition reads the counts before the
	// histogram, so it never shows a record without its latency.
	m.publishLatency.observe(latency)
	m.published[lane].Add(1)
}

// OtherDevice counts a record of the commands topic read and skipped as
// another device's: the hook kafka.Config.OnOtherDevice calls per record.
// It costs an atomic add.
func (m *Metrics) OtherDevice() { m.otherDevices.Add(1) }

// RPC counts a command answered: its method, its code ("OK" for a
// success) and its duration: the hook rpc.Config.Observe calls. The
// methods and codes must be few (rpc's are): each pair is a time series.
func (m *Metrics) RPC(method, code string, took time.Duration) {
	m.rpcMu.Lock()
	r := m.rpc[method]
	if r == nil {
		r = &rpcMethod{codes: map[string]uint64{}, duration: newHistogram(rpcBuckets...)}
		m.rpc[method] = r
	}
	r.codes[code]++
	m.rpcMu.Unlock()
	r.duration.observe(took)
}

// rpcCount is the count of answers to a method with a code.
type rpcCount struct {
	method, code string
	n            uint64
}

// rpcCounts returns the answers counted, sorted by method and code, and
// the methods' duration histograms, sorted by method.
func (m *Metrics) rpcCounts() ([]rpcCount, []string, []*histogram) {
	m.rpcMu.Lock()
	defer m.rpcMu.Unlock()
	var counts []rpcCount
	methods := make([]string, 0, len(m.rpc))
	for method, r := range m.rpc {
		methods = append(methods, method)
		for code, n := range r.codes {
			counts = append(counts, rpcCount{method, code, n})
		}
	}
	slices.Sort(methods)
	slices.SortFunc(counts, func(a, b rpcCount) int {
		return cmp.Or(cmp.Compare(a.method, b.method), cmp.Compare(a.code, b.code))
	})
	hs := make([]*histogram, len(methods))
	for i, method := range methods {
		hs[i] = m.rpc[method].duration
	}
	return counts, methods, hs
}
