package rpc

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

func TestUpdateAgentOffUntilAKeyIsPinned(t *testing.T) {
	r := newRig(t, Config{})
	payload, _ := command(t, contracts.MethodUpdateAgent, `{"url":"https://r/a","sha256":"`+strings.Repeat("0", 64)+`","signature":"`+base64.StdEncoding.EncodeToString(make([]byte, 64))+`","version":"v2"}`, nil)
	o := r.call(payload)
	if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeMethodNotFound || !strings.Contains(o.answer.Error.Message, "update.publicKey") {
		t.Fatalf("updateAgent without a key: %v; want METHOD_NOT_FOUND naming update.publicKey", o)
	}
}

func TestUpdateAgentParams(t *testing.T) {
	started := 0
	r := newRig(t, Config{}, func(d *Deps) {
		d.Update = func(context.Context, UpdateRequest) error { started++; return nil }
	})
	sum, sig := strings.Repeat("0", 64), base64.StdEncoding.EncodeToString(make([]byte, 64))
	for _, c := range []struct{ params, names string }{
		{`{"url":"http://r/a","sha256":"` + sum + `","signature":"` + sig + `","version":"v2"}`, "params.url"},
		{`{"url":"https://r/a","sha256":"abc","signature":"` + sig + `","version":"v2"}`, "params.sha256"},
		{`{"url":"https://r/a","sha256":"` + sum + `","signature":"AAAA","version":"v2"}`, "params.signature"},
		{`{"url":"https://r/a","sha256":"` + sum + `","signature":"` + sig + `","version":""}`, "params.version"},
	} {
		payload, _ := command(t, contracts.MethodUpdateAgent, c.params, nil)
		o := r.call(payload)
		if o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeInvalidCommand || !strings.Contains(o.answer.Error.Message, c.names) {
			t.Errorf("updateAgent %s: %v; want INVALID_COMMAND naming %s", c.params, o, c.names)
		}
	}
	if started != 0 {
		t.Errorf("%d updates started from refused params", started)
	}
}
