package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/update"
	"github.com/iot-hub/agent/contracts"
)

// configTestHook, when set, changes the configuration a run loads. It is
// nil in the agent; cmd/agent's end-to-end tests set it to give an
// installed update a broker where nothing listens: a new version that
// never connects.
var configTestHook func(*config.Config)

// downloadTimeout bounds an update's download and verification.
const downloadTimeout = 15 * time.Minute

// launchInstalled, in the packaged binary, starts the binary an update
// installed (agent/update's slots) in its place, with the same arguments,
// counting its start when it is on trial; it returns only when the
// packaged binary is to run, with what the log should say. A binary
// that is a slot's does nothing here.
func launchInstalled(stateDir string, stderr io.Writer) string {
	if os.Getenv(update.SlotEnv) != "" {
		return ""
	}
	slots, err := update.OpenSlots(stateDir)
	if err != nil {
		return "update: " + err.Error()
	}
	st, err := slots.Load()
	if err != nil || st.Current == "" {
		if err != nil {
			return "update: " + err.Error()
		}
		return ""
	}
	exe, err := os.Executable()
	if err != nil {
		return "update: " + err.Error()
	}
	packaged, err := update.PackagedSHA256(exe)
	if err != nil {
		return "update: " + err.Error()
	}
	launch, err := slots.Begin(packaged)
	if err != nil {
		return "update: " + err.Error()
	}
	if launch.Slot == "" {
		return launch.Note
	}
	env := append(os.Environ(), update.SlotEnv+"="+launch.Slot)
	err = syscall.Exec(slots.Path(launch.Slot), append([]string{slots.Path(launch.Slot)}, os.Args[1:]...), env)
	// Still here: it could not be started at all.
	reason := fmt.Sprintf("its binary could not be started: %v", err)
	if rerr := slots.RollBack(reason); rerr != nil {
		return "update: " + rerr.Error()
	}
	fmt.Fprintln(stderr, "agent: update rolled back:", reason)
	return "update rolled back: " + reason
}

// runningSlot is the binary that runs: "packaged" or its update slot.
func runningSlot() string {
	if s := os.Getenv(update.SlotEnv); s != "" {
		return s
	}
	return "packaged"
}

// updater installs the binaries updateAgent names, one at a time, in the
// background: download, verification, install into the inactive slot,
// then a restart into it, on trial. A failure is audited, with its
// reason, and the agent goes on as it was.
type updater struct {
	slots   *update.Slots
	key     ed25519.PublicKey
	client  *http.Client
	max     int64
	after   time.Duration // rpc.rollbackAfter: the new binary's time to connect
	restart func(reason string)
	record  func(rpc.Audit)
	onTrial func(contracts.Method) error // refuses while the run is on trial
	log     *slog.Logger

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	mu     sync.Mutex
	busy   bool
	wg     sync.WaitGroup
}

// newUpdater returns the updater of cfg's update settings, or nil when
// updateAgent is off (no key pinned).
func newUpdater(cfg *config.Config, log *slog.Logger, restart func(string), record func(rpc.Audit), onTrial func(contracts.Method) error) (*updater, error) {
	if !cfg.Update.Enabled() {
		return nil, nil
	}
	key, err := cfg.Update.Key()
	if err != nil {
		return nil, err
	}
	client, err := cfg.Update.Client()
	if err != nil {
		return nil, err
	}
	slots, err := update.OpenSlots(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &updater{slots: slots, key: key, client: client, max: int64(cfg.Update.MaxBytes), after: cfg.RPC.RollbackAfter,
		restart: restart, record: record, onTrial: onTrial, log: log, ctx: ctx, cancel: cancel}, nil
}

// Start is the rpc.Deps' Update: it refuses a request while another
// update is under way or on trial, and otherwise installs it in the
// background.
func (u *updater) Start(_ context.Context, req rpc.UpdateRequest) error {
	if err := u.onTrial(contracts.MethodUpdateAgent); err != nil {
		return err
	}
	st, err := u.slots.Load()
	if err != nil {
		return err
	}
	if st.Trial != nil {
		return &rpc.Refused{Msg: fmt.Sprintf("updateAgent: version %s is on trial until it connects (or is rolled back)", st.Trial.Version)}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy {
		return &rpc.Refused{Msg: "updateAgent: another update is being downloaded"}
	}
	u.busy = true
	u.wg.Go(func() {
		defer func() { u.mu.Lock(); u.busy = false; u.mu.Unlock() }()
		u.install(req, st.Inactive())
	})
	return nil
}

// install downloads, verifies and installs req's binary into slot, and
// restarts the agent into it; or audits why it could not.
func (u *updater) install(req rpc.UpdateRequest, slot string) {
	ctx, cancel := context.WithTimeout(u.ctx, downloadTimeout)
	defer cancel()
	part := u.slots.Path(slot) + ".download"
	defer os.Remove(part)
	fail := func(reason string) {
		u.log.Error("updateAgent: failed", "version", req.Version, "reason", reason, "correlationId", req.CorrelationID)
		u.record(rpc.Audit{CorrelationID: req.CorrelationID, Action: contracts.MethodUpdateAgent, RequestedBy: req.RequestedBy,
			Outcome: contracts.AuditFailed, Reason: reason})
	}
	u.log.Info("updateAgent: downloading", "version", req.Version, "url", req.URL, "slot", slot)
	n, err := update.Download(ctx, u.client, req.URL, part, u.max)
	if err != nil {
		fail("download: " + err.Error())
		return
	}
	if err := update.Verify(part, req.SHA256, req.Signature, u.key); err != nil {
		fail(fmt.Sprintf("verification of the %d bytes downloaded: %v", n, err))
		return
	}
	packaged, err := u.packagedSHA256()
	if err == nil {
		err = u.slots.Install(part, update.Trial{Version: req.Version, CorrelationID: req.CorrelationID,
			RequestedBy: req.RequestedBy, RollbackAfter: u.after}, packaged)
	}
	if err != nil {
		fail("install: " + err.Error())
		return
	}
	u.log.Info("updateAgent: installed; restarting into it, on trial", "version", req.Version, "slot", slot, "bytes", n)
	u.restart("version " + req.Version + " installed in slot " + slot + ", on trial")
}

// packagedSHA256 is the packaged binary's SHA-256: this binary's, or,
// when this one is an update's, the one its install recorded.
func (u *updater) packagedSHA256() (string, error) {
	if os.Getenv(update.SlotEnv) != "" {
		st, err := u.slots.Load()
		return st.Packaged, err
	}
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return update.PackagedSHA256(exe)
}

// Close stops an update under way and waits for it.
func (u *updater) Close() {
	if u == nil {
		return
	}
	u.cancel()
	u.wg.Wait()
}

// updateTrial is the trial of the binary that runs, if it is an update's
// on trial.
func updateTrial(stateDir string) (*trial, error) {
	slot := os.Getenv(update.SlotEnv)
	if slot == "" {
		return nil, nil
	}
	slots, err := update.OpenSlots(stateDir)
	if err != nil {
		return nil, err
	}
	st, err := slots.Load()
	if err != nil || st.Trial == nil || st.Trial.Slot != slot {
		return nil, err
	}
	t := st.Trial
	return &trial{what: "version " + t.Version, passed: "installed: version " + t.Version + " runs from slot " + t.Slot + " and connected", action: contracts.MethodUpdateAgent, correlationID: t.CorrelationID,
		requestedBy: t.RequestedBy, after: t.RollbackAfter, confirm: slots.Confirm, rollBack: slots.RollBack}, nil
}

// reportUpdateRolledBack sends the audit event of an update rolled back
// before this start, then forgets it.
func (p *parts) reportUpdateRolledBack(stateDir string, log *slog.Logger) error {
	slots, err := update.OpenSlots(stateDir)
	if err != nil {
		return err
	}
	st, err := slots.Load()
	if err != nil || st.RolledBack == nil {
		return err
	}
	rb := st.RolledBack
	log.Warn("updateAgent: the update was rolled back", "version", rb.Version, "reason", rb.Reason, "correlationId", rb.CorrelationID)
	if err := p.record(rpc.Audit{CorrelationID: rb.CorrelationID, Action: contracts.MethodUpdateAgent,
		RequestedBy: rb.RequestedBy, Outcome: contracts.AuditRolledBack, Reason: "version " + rb.Version + ": " + rb.Reason}); err != nil {
		return err
	}
	return slots.ClearRolledBack()
}
