package config

import (
	"log/slog"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Health configures the local health and metrics endpoint: /healthz and
// /metrics (Prometheus), over HTTP without authentication, for the
// gateway itself. Its fields map onto health.Config.
type Health struct {
	// Enabled serves the endpoint. Default false.
	Enabled bool `yaml:"enabled"`
	// Listen is the address served: a loopback IP (127.0.0.0/8 or ::1)
	// and a port; any other address is refused. Default 127.0.0.1:9464.
	Listen string `yaml:"listen"`
}

// applyHealthDefaults fills in the defaults of the health section.
func (c *Config) applyHealthDefaults() {
	confkeys.SetDefault(&c.Health.Listen, health.DefaultListen)
}

// HealthConfig maps the health section onto the server's configuration,
// logging to log.
func (c *Config) HealthConfig(log *slog.Logger) health.Config {
	return health.Config{Listen: c.Health.Listen, Logger: log}
}
