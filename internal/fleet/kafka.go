package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// kafkaCosts is what one idle gateway's Kafka uplink costs the cluster.
type kafkaCosts struct {
	brokers     int
	connections int                // open to the brokers, once idle
	perSecond   map[string]float64 // requests a second, idle, by kind
	idle        time.Duration      // how long it was watched
}

// total is the requests a second, every kind.
func (k kafkaCosts) total() float64 {
	var t float64
	for _, v := range k.perSecond {
		t += v
	}
	return t
}

// kafkaCost runs one gateway's Kafka uplink, with the agent's defaults,
// against a 3-broker kfake cluster holding the contracts' topics (3
// partitions each), waits until it is connected and has settled (5 s),
// then counts its requests for idle, and its connections.
func kafkaCost(idle time.Duration) (kafkaCosts, error) {
	if idle <= 0 {
		return kafkaCosts{}, nil
	}
	const brokers = 3
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(3, contracts.TopicDeviceTelemetry, contracts.TopicDeviceCommands,
		contracts.TopicDeviceResponses, contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ))
	if err != nil {
		return kafkaCosts{}, err
	}
	defer c.Close()
	var mu sync.Mutex
	counting := false
	counts := map[string]int{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		if counting {
			counts[kmsg.NameForKey(req.Key())]++
		}
		mu.Unlock()
		return nil, nil, false
	})
	dir, err := os.MkdirTemp("", "fleet-kafka-")
	if err != nil {
		return kafkaCosts{}, err
	}
	defer os.RemoveAll(dir)
	box, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{ReserveBytes: gatewayReserve})
	if err != nil {
		return kafkaCosts{}, err
	}
	defer box.Close()
	cfg := kafka.DefaultConfig()
	cfg.Brokers, cfg.DeviceID = c.ListenAddrs(), "gw-kafka"
	up, err := kafka.New(cfg, box, func(context.Context, kafka.Command) {})
	if err != nil {
		return kafkaCosts{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for !up.State().Connected || box.Stats().Control.Depth > 0 {
		if time.Now().After(deadline) {
			return kafkaCosts{}, fmt.Errorf("kafka: the gateway not connected, its status not sent, within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	mu.Lock()
	counting = true
	mu.Unlock()
	time.Sleep(idle)
	mu.Lock()
	counting = false
	k := kafkaCosts{brokers: brokers, idle: idle, perSecond: map[string]float64{}}
	for name, n := range counts {
		k.perSecond[name] = float64(n) / idle.Seconds()
	}
	mu.Unlock()
	k.connections, err = establishedTo(c.ListenAddrs())
	return k, err
}

// establishedTo counts the established TCP connections to addrs (their
// server ends, in this process: kfake's), from /proc/net/tcp.
func establishedTo(addrs []string) (int, error) {
	ports := map[string]bool{}
	for _, a := range addrs {
		i := strings.LastIndexByte(a, ':')
		p, err := strconv.Atoi(a[i+1:])
		if err != nil {
			return 0, err
		}
		ports[fmt.Sprintf("%04X", p)] = true
	}
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "01" { // 01: ESTABLISHED
			continue
		}
		if _, port, ok := strings.Cut(f[1], ":"); ok && ports[port] {
			n++
		}
	}
	return n, nil
}
