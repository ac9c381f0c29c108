package rpc

import (
	"context"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// getConfig answers getConfig: the configuration the agent runs with,
// every key, defaults filled in and secrets masked ("***"), as a JSON
// object of the file's keys; its phase is the one the agent is in, which
// SIGHUP may have changed since the start. It takes no params.
type getConfig struct {
	config func() (jsontext.Value, error) // nil: none to give
}

// configResult is the result of getConfig.
type configResult struct {
	Config jsontext.Value `json:"config"`
}

func (g getConfig) run(_ context.Context, raw jsontext.Value) (any, error) {
	if err := decodeParams(raw, &struct{}{}); err != nil {
		return nil, err
	}
	if g.config == nil {
		return configResult{Config: jsontext.Value("{}")}, nil
	}
	c, err := g.config()
	if err != nil {
		return nil, fmt.Errorf("rpc: getConfig: %w", err)
	}
	return configResult{Config: c}, nil
}
