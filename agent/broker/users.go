package broker

import (
	"bytes"
	"crypto/subtle"
	"fmt"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iot-hub/agent/internal/confkeys"
)

// User is a client the broker accepts when Settings.Users are given: a
// device on the gateway's network, with its password and the topic
// filters it may publish and subscribe within.
type User struct {
	// Username and Password authenticate the client. Required.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Publish and Subscribe are the MQTT topic filters ("sensors/#",
	// "devices/+/status") within which the user may publish, and
	// subscribe. Default: none.
	Publish   []string `yaml:"publish,omitempty"`
	Subscribe []string `yaml:"subscribe,omitempty"`
}

// validateUsers reports the first user that is wrong, as a
// *confkeys.FieldError at its key ("users[1].password").
func validateUsers(users []User) error {
	seen := map[string]bool{}
	for i, u := range users {
		at := fmt.Sprintf("users[%d].", i)
		switch {
		case u.Username == "":
			return confkeys.Invalid(at+"username", "required")
		case seen[u.Username]:
			return confkeys.Invalid(at+"username", "%q is another user's too", u.Username)
		case len(u.Password) < 8:
			return confkeys.Invalid(at+"password", "required, at least 8 characters")
		}
		seen[u.Username] = true
		for key, filters := range map[string][]string{"publish": u.Publish, "subscribe": u.Subscribe} {
			for j, f := range filters {
				if err := checkFilter(f); err != nil {
					return confkeys.Invalid(fmt.Sprintf("%s%s[%d]", at, key, j), "%q: %v", f, err)
				}
			}
		}
	}
	return nil
}

// usersHook admits only the configured users, each within its filters.
type usersHook struct {
	mochi.HookBase
	users map[string]User
}

// ID names the hook.
func (h *usersHook) ID() string { return "iot-hub-users" }

// Provides says which events the hook answers.
func (h *usersHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a user whose password is right, compared
// in constant time.
func (h *usersHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	u, ok := h.users[string(pk.Connect.Username)]
	return ok && subtle.ConstantTimeCompare([]byte(u.Password), pk.Connect.Password) == 1
}

// OnACLCheck lets a user publish on a topic within its Publish filters,
// and subscribe to a filter within its Subscribe ones: a wildcard asked
// for must be one the user's filter has too.
func (h *usersHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	u := h.users[string(cl.Properties.Username)]
	filters := u.Subscribe
	if write {
		filters = u.Publish
	}
	for _, f := range filters {
		if within(topic, f) {
			return true
		}
	}
	return false
}
