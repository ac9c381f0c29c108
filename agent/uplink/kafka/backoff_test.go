package kafka

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/internal/backoff/backofftest"
)

// Every wait, from r = 0 (an immediate retry) to r → 1, is within
// backofftest.ReturnBound: so is the wait under way when the brokers return.
func TestRetryBackoffBound(t *testing.T) {
	almostOne := math.Nextafter(1, 0)
	for n := range 64 {
		if w := retryBackoffBy(n, almostOne); w < 0 || w > backofftest.ReturnBound {
			t.Errorf("retryBackoffBy(%d, →1) = %v; want within [0, %v]", n, w, backofftest.ReturnBound)
			break
		}
	}
}

// Issue 21's fleet on Kafka: 1,000 gateways that lost the brokers at the
// same instant, each with its own draws, come back after issue 17's 60 s
// outage 99% within 15 s of the brokers' return, at most a fifth of them
// in any one second.
func TestFleetReturnAfterOutage(t *testing.T) {
	backofftest.CheckFleet(t, func(g int) func(int) time.Duration {
		draw := rand.New(rand.NewPCG(21, uint64(g)))
		return func(n int) time.Duration { return retryBackoffBy(n, draw.Float64()) }
	})
}

// franz-go retries with retryBackoff, in both clients (commonOpts), not
// with its own backoff, which never waits over 5 s.
func TestClientsRetryWithRetryBackoff(t *testing.T) {
	u, err := New(Config{Brokers: []string{"127.0.0.1:1"}, DeviceID: "gw-test"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(u.commonOpts()...) // makes no connection until asked to
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	wait, ok := cl.OptValue(kgo.RetryBackoffFn).(func(int) time.Duration)
	if !ok {
		t.Fatalf("OptValue(RetryBackoffFn) = %T; want a func(int) time.Duration", cl.OptValue(kgo.RetryBackoffFn))
	}
	// Drawn from [0, 15 s): 1,000 draws all under 5 s, as franz-go's
	// own would be, has a chance of (1/3)^1000.
	var longest time.Duration
	for range 1000 {
		w := wait(50)
		if w < 0 || w > backoffMax {
			t.Fatalf("franz-go's retry backoff(50) = %v; want within [0, %v]", w, backoffMax)
		}
		longest = max(longest, w)
	}
	if longest <= 5*time.Second {
		t.Errorf("franz-go's retry backoff(50) at most %v in 1,000 calls; want retryBackoff's, up to %v", longest, backoffMax)
	}
}
