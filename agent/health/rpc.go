package health

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// Local RPC: POST /v1/rpc/{method} builds a device.command.rpc from the
// request and hands it to the agent's dispatcher, the path the uplinks'
// commands take: the same methods, the same codes, the same
// de-duplication by correlationId. The answer is the device.response.rpc
// envelope, sent back to the caller alone, not to the backend.

// Commands is what the server needs of the RPC dispatcher
// (*rpc.Dispatcher).
type Commands interface {
	// Handle takes a command and answers it in the background.
	Handle(req uplink.Command)
}

// The headers of a local RPC.
const (
	// HeaderCorrelationID carries the command's correlationId (a UUID):
	// the same id twice is run once and answered alike. Without it the
	// command gets a new one. The answer repeats it.
	HeaderCorrelationID = "X-Correlation-Id"
	// HeaderRequestedBy names the caller; the command's requestedBy is
	// "local:" and this name, or "local" without it.
	HeaderRequestedBy = "X-Requested-By"
)

// localTopic stands for the topic a local command came on, in logs and
// dead letters.
const localTopic = "local:POST /v1/rpc"

// maxRequestedBy bounds HeaderRequestedBy.
const maxRequestedBy = 128

// serveRPC answers POST /v1/rpc/{method}: the request body is the
// command's params (a JSON object; empty for none).
func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	if problem := notLocal(r); problem != "" {
		rpcRefuse(w, http.StatusForbidden, problem+": only a caller on this gateway may call its methods")
		return
	}
	id := r.Header.Get(HeaderCorrelationID)
	switch {
	case id == "":
		id = uuid.NewString()
	case uuid.Validate(id) != nil:
		rpcRefuse(w, http.StatusBadRequest, fmt.Sprintf("header %s: %q is not a UUID", HeaderCorrelationID, id))
		return
	}
	by := "local"
	if name := strings.TrimSpace(r.Header.Get(HeaderRequestedBy)); name != "" {
		by += ":" + strings.ToValidUTF8(name[:min(len(name), maxRequestedBy)], "") // a rune cut in two goes
	}
	params, err := io.ReadAll(io.LimitReader(r.Body, int64(s.src.MaxCommandBytes)+1))
	switch {
	case err != nil:
		rpcRefuse(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	case len(params) > s.src.MaxCommandBytes:
		rpcRefuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than the %d bytes a command may be", s.src.MaxCommandBytes))
		return
	}
	if params = bytes.TrimSpace(params); len(params) == 0 {
		params = nil
	} else if v := jsontext.Value(params); !v.IsValid() || v.Kind() != '{' {
		rpcRefuse(w, http.StatusBadRequest, "the body must be the method's params: a JSON object, or empty")
		return
	}

	origin := contracts.Origin{Source: contracts.Source{Type: contracts.SourceUser, ID: by}, Clock: s.cfg.Clock.Now}
	cmd := contracts.NewDeviceCommandRPC(origin, contracts.DeviceCommandRPCPayload{
		DeviceID: s.src.DeviceID, Method: contracts.Method(r.PathValue("method")), RequestedBy: by, Params: params}, 0)
	cmd.CorrelationID = id
	// Unchecked: an unknown method is the dispatcher's to refuse, with the
	// code and the dead letter a remote caller's gets.
	payload, err := contracts.EncodeUnchecked(cmd)
	if err != nil {
		rpcRefuse(w, http.StatusBadRequest, "building the command: "+err.Error())
		return
	}

	// A refusal's dead letter goes where the device's own events go.
	topics, _ := contracts.DeviceTopics(s.src.DeviceID)
	answers := make(chan []byte, 1)
	s.src.Commands.Handle(uplink.Command{Topic: localTopic, Payload: payload, ReceivedAt: s.cfg.Clock.Now(), DeadLetters: topics.DLQ,
		Deliver: func(answer []byte) { answers <- answer }})
	// The method's own deadline bounds the wait, not the server's write
	// timeout; the caller may give up sooner.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	select {
	case answer := <-answers:
		writeAnswer(w, id, answer)
	case <-r.Context().Done():
	}
}

// writeAnswer writes a device.response.rpc envelope, with the HTTP status
// of its code; nil (a command that got only a dead letter) is a 500.
func writeAnswer(w http.ResponseWriter, id string, answer []byte) {
	if answer == nil {
		rpcRefuse(w, http.StatusInternalServerError, "the command got no answer, only a dead letter: see the agent's log")
		return
	}
	status := http.StatusOK
	if m, err := contracts.Decode(answer); err == nil {
		if resp, ok := m.(*contracts.DeviceResponseRPC); ok && resp.Error != nil {
			status = statusOf(resp.Error.Code)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(HeaderCorrelationID, id)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(answer, '\n'))
}

// statusOf is the HTTP status of an error answer's code.
func statusOf(code string) int {
	switch code {
	case contracts.CodeInvalidCommand, contracts.CodeUnsupportedVersion, contracts.CodeWrongDevice:
		return http.StatusBadRequest
	case contracts.CodeMethodNotFound:
		return http.StatusNotFound
	case contracts.CodeExpired, contracts.CodeTimeout:
		return http.StatusGatewayTimeout
	case contracts.CodeBusy:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// rpcRefuse answers a request that never became a command: {"error": msg}.
func rpcRefuse(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": "local rpc: " + msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// notLocal says why r is not a local caller's, or "" when it is: it must
// come from a loopback address, not forwarded. The listener is on one, so
// a caller elsewhere cannot reach it; this holds should a proxy on the
// gateway forward to it from outside.
func notLocal(r *http.Request) string {
	for _, h := range []string{"Forwarded", "X-Forwarded-For"} {
		if r.Header.Get(h) != "" {
			return "a forwarded request (" + h + ")"
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return "a caller at " + r.RemoteAddr
	}
	return ""
}
