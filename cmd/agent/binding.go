package main

import (
	"context"
	"log/slog"

	"github.com/iot-hub/agent/agent/binding"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/contracts"
)

// bindingEvents are the handlers of the backend's device.bound and
// device.unbound for this gateway: each is kept in b (a stale one
// changes nothing), and logged; one about another device is refused,
// and so dead-lettered.
func bindingEvents(b *binding.Store, log *slog.Logger) map[contracts.EventType]rpc.EventHandler {
	handle := func(kind string, apply func() (bool, error)) error {
		changed, err := apply()
		switch st := b.Status(); {
		case err != nil:
			return err
		case changed:
			log.Info("binding: "+kind, "bound", st.Bound, "userId", st.UserID, "since", st.Since)
		default:
			log.Info("binding: a stale "+kind+" event ignored: the binding is newer", "bound", st.Bound, "userId", st.UserID, "since", st.Since)
		}
		return nil
	}
	return map[contracts.EventType]rpc.EventHandler{
		contracts.TypeDeviceBound: func(_ context.Context, m contracts.Message) error {
			return handle("bound", func() (bool, error) { return b.Bound(m.(*contracts.DeviceBound)) })
		},
		contracts.TypeDeviceUnbound: func(_ context.Context, m contracts.Message) error {
			return handle("unbound", func() (bool, error) { return b.Unbound(m.(*contracts.DeviceUnbound)) })
		},
	}
}
