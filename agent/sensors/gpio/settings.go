package gpio

import (
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// InputSettings are the keys of a gpio-input sensor.
type InputSettings struct {
	// Chip is the GPIO chip: gpiochip0 (the default: the Raspberry Pi's
	// header) or its /dev path.
	Chip string `yaml:"chip,omitempty"`
	// Line is the line's name (GPIO17) or number (17). Required.
	Line string `yaml:"line"`
	// Pull is the line's bias: none (the default), up or down.
	Pull string `yaml:"pull,omitempty"`
	// ActiveLow reads a low line as 1: a switch to ground with a pull-up.
	ActiveLow bool `yaml:"activeLow,omitempty"`
	// Metric names the reading. Default state.
	Metric string `yaml:"metric,omitempty"`
}

// CounterSettings are the keys of a gpio-counter sensor.
type CounterSettings struct {
	// Chip, Line and Pull are those of InputSettings; a meter's S0
	// output is an open collector: pull up, count falling edges.
	Chip string `yaml:"chip,omitempty"`
	Line string `yaml:"line"`
	Pull string `yaml:"pull,omitempty"`
	// Edge is what a pulse is: falling (the default), rising or both.
	Edge string `yaml:"edge,omitempty"`
	// Debounce is how long a level must hold to count. Default 10ms;
	// 1ms to 1s.
	Debounce time.Duration `yaml:"debounce,omitempty" limit:"1ms..1s"`
	// Scale converts pulses to the metric's unit: 0.001 for a meter of
	// 1,000 impulses per kWh. Default 1.
	Scale float64 `yaml:"scale,omitempty"`
	// Metric and Unit name the reading. Defaults count and none.
	Metric string `yaml:"metric,omitempty"`
	Unit   string `yaml:"unit,omitempty"`
}

// Defaults.
const (
	DefaultChip     = "gpiochip0"
	DefaultDebounce = 10 * time.Millisecond
)

// SetDefaults fills in the keys left out of s.
func (s *InputSettings) SetDefaults() {
	confkeys.SetDefault(&s.Chip, DefaultChip)
	confkeys.SetDefault(&s.Pull, PullNone)
	confkeys.SetDefault(&s.Metric, "state")
}

// Validate reports the first key of s that is wrong.
func (s InputSettings) Validate() error { return validate(s.Line, s.Pull, EdgeFalling) }

// SetDefaults fills in the keys left out of s.
func (s *CounterSettings) SetDefaults() {
	confkeys.SetDefault(&s.Chip, DefaultChip)
	confkeys.SetDefault(&s.Pull, PullNone)
	confkeys.SetDefault(&s.Edge, EdgeFalling)
	confkeys.SetDefault(&s.Debounce, DefaultDebounce)
	confkeys.SetDefault(&s.Scale, 1)
	confkeys.SetDefault(&s.Metric, "count")
}

// Validate reports the first key of s that is wrong.
func (s CounterSettings) Validate() error { return validate(s.Line, s.Pull, s.Edge) }

func validate(line, pull, edge string) error {
	_, okPull := pulls[pull]
	switch _, okEdge := edges[edge]; {
	case line == "":
		return confkeys.Invalid("line", "required: the line's name (GPIO17) or number")
	case !okPull:
		return confkeys.Invalid("pull", "%q: want none, up or down", pull)
	case !okEdge || edge == edgeNone:
		return confkeys.Invalid("edge", "%q: want falling, rising or both", edge)
	}
	return nil
}
