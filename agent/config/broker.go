package config

import "net"

// The embedded broker's rules between sections: its address is the MQTT
// uplink's default broker, and its TLS files are read by Load.

// embeddedBrokerURL returns the URL the MQTT uplink reaches the embedded
// broker at: mqtt://, or mqtts:// when it serves TLS, and its listen
// address, on 127.0.0.1 when that is every interface.
func (m *MQTT) embeddedBrokerURL() string {
	eb := m.EmbeddedBroker
	scheme := "mqtt://"
	if eb.TLS.CertFile != "" {
		scheme = "mqtts://"
	}
	if host, port, err := net.SplitHostPort(eb.Listen); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		return scheme + net.JoinHostPort("127.0.0.1", port)
	}
	return scheme + eb.Listen
}

// validateEmbeddedBroker checks the embedded broker's keys
// (broker.Settings.Validate), then that the uplink, when the broker is
// its own, has the client certificate it asks for.
func (c *Config) validateEmbeddedBroker(bad func(path, format string, args ...any) error) error {
	m := &c.Uplink.MQTT
	if err := m.EmbeddedBroker.Validate(); err != nil {
		return c.fieldError("uplink.mqtt.embeddedBroker", err)
	}
	if m.EmbeddedBroker.Enabled && m.EmbeddedBroker.TLS.ClientCAFile != "" && c.UsesMQTT() && m.Broker == m.embeddedBrokerURL() && m.CertFile == "" {
		return bad("uplink.mqtt.certFile", "required: the uplink's broker, %s, is the embedded broker, which asks every client for a certificate of embeddedBroker.tls.clientCAFile", m.Broker)
	}
	return nil
}

// checkFiles reads the files that the agent reads only as it starts, so
// that Load, and check-config, report them: the embedded broker's TLS
// files (broker.Settings.TLSConfig), an error at the key of the file.
func (c *Config) checkFiles() error {
	if _, err := c.Update.Client(); err != nil {
		return c.fieldError("update", err)
	}
	eb := c.Uplink.MQTT.EmbeddedBroker
	if !eb.Enabled {
		return nil
	}
	if _, err := eb.TLSConfig(); err != nil {
		return c.fieldError("uplink.mqtt.embeddedBroker", err)
	}
	return nil
}
