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
// device on the gateway's network, with its password or its client
// certificate, and the topic filters it may publish and subscribe within.
type User struct {
	// Username names the user; a password user logs in with it. Required
	// and unique; a certificate user's defaults to its CertificateCN.
	Username string `yaml:"username"`
	// Password authenticates a password user: a client that sends one is
	// this user when it sends Username too. At least 8 characters;
	// required unless CertificateCN is set, excluded by it.
	Password string `yaml:"password,omitempty"`
	// CertificateCN makes a certificate user: a client that sends no
	// password and presented a certificate verified against
	// TLS.ClientCAFile (which it requires) is the user whose
	// CertificateCN is the certificate's Subject Common Name, exactly;
	// the username it sends, if any, is not checked. Unique. Default:
	// none, a password user.
	CertificateCN string `yaml:"certificateCN,omitempty"`
	// Publish and Subscribe are the MQTT topic filters ("sensors/#",
	// "devices/+/status") within which the user may publish, and
	// subscribe. Default: none.
	Publish   []string `yaml:"publish,omitempty"`
	Subscribe []string `yaml:"subscribe,omitempty"`
}

// setDefaults fills in a certificate user's Username.
func (u *User) setDefaults() { confkeys.SetDefault(&u.Username, u.CertificateCN) }

// validateUsers reports the first user (defaults filled in) that is
// wrong, as a *confkeys.FieldError at its key ("users[1].password");
// clientCAs says whether TLS.ClientCAFile is set, which certificate
// users need.
func validateUsers(users []User, clientCAs bool) error {
	seen, seenCN := map[string]bool{}, map[string]bool{}
	for i, u := range users {
		at := fmt.Sprintf("users[%d].", i)
		switch {
		case u.Username == "":
			return confkeys.Invalid(at+"username", "required (or certificateCN, for a certificate user)")
		case seen[u.Username]:
			return confkeys.Invalid(at+"username", "%q is another user's too", u.Username)
		case u.CertificateCN == "" && len(u.Password) < 8:
			return confkeys.Invalid(at+"password", "required, at least 8 characters (or certificateCN, for a certificate user)")
		case u.CertificateCN != "" && u.Password != "":
			return confkeys.Invalid(at+"password", "set beside certificateCN: a user logs in by password or by certificate, not both")
		case u.CertificateCN != "" && !clientCAs:
			return confkeys.Invalid(at+"certificateCN", "needs tls.clientCAFile, the CAs that client certificates must chain to")
		case seenCN[u.CertificateCN]:
			return confkeys.Invalid(at+"certificateCN", "%q is another user's too", u.CertificateCN)
		}
		seen[u.Username] = true
		if u.CertificateCN != "" {
			seenCN[u.CertificateCN] = true
		}
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
	users map[string]User // by Username
	byCN  map[string]User // the certificate users, by CertificateCN
}

// newUsersHook returns the hook of users, valid.
func newUsersHook(users []User) *usersHook {
	h := &usersHook{users: map[string]User{}, byCN: map[string]User{}}
	for _, u := range users {
		h.users[u.Username] = u
		if u.CertificateCN != "" {
			h.byCN[u.CertificateCN] = u
		}
	}
	return h
}

// ID names the hook.
func (h *usersHook) ID() string { return "iot-hub-users" }

// Provides says which events the hook answers.
func (h *usersHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a client that sends a password when it
// is that of the password user it names, compared in constant time; and
// one that sends none when its verified certificate's CN is a
// certificate user's, whose Username then becomes the client's (for
// OnACLCheck), whatever the client sent.
func (h *usersHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	if pk.Connect.PasswordFlag {
		u, ok := h.users[string(pk.Connect.Username)]
		return ok && u.CertificateCN == "" && subtle.ConstantTimeCompare([]byte(u.Password), pk.Connect.Password) == 1
	}
	cn, ok := verifiedCN(cl.Net.Conn)
	if !ok {
		return false
	}
	u, ok := h.byCN[cn]
	if ok {
		cl.Properties.Username = []byte(u.Username)
	}
	return ok
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
