package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/goccy/go-yaml"
)

// Change makes the configuration file setConfig asks for, from running,
// the file the agent runs with: whole, a configuration as getConfig
// returns it, or patch, a JSON merge patch (RFC 7396) onto running; the
// other nil. A value "***" (Mask, as getConfig writes the passwords)
// keeps what running has at the same place, or is left out when
// running has nothing there (a password from the environment stays
// there). It returns the file as YAML, without running's comments, not
// yet validated: Load it. Errors name the param ("params.patch: ...").
func Change(running, whole, patch []byte) ([]byte, error) {
	cur, err := document(running)
	if err != nil {
		return nil, fmt.Errorf("config: the running file: %w", err)
	}
	param, doc := "params.config", any(nil)
	if patch != nil {
		param = "params.patch"
		p, err := decodeJSON(patch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", param, err)
		}
		if _, ok := p.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: want an object", param)
		}
		doc = mergePatch(clone(cur), p)
	} else {
		if doc, err = decodeJSON(whole); err != nil {
			return nil, fmt.Errorf("%s: %w", param, err)
		}
		if _, ok := doc.(map[string]any); !ok {
			return nil, fmt.Errorf("%s: want an object", param)
		}
	}
	doc = unmask(doc, cur)
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	return y, nil
}

// document reads a YAML configuration file as JSON values.
func document(file []byte) (any, error) {
	if len(bytes.TrimSpace(file)) == 0 {
		return map[string]any{}, nil
	}
	j, err := yaml.YAMLToJSON(file)
	if err != nil {
		return nil, err
	}
	return decodeJSON(j)
}

// decodeJSON decodes one JSON value, numbers kept as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// mergePatch applies patch to target, RFC 7396: an object's members
// replace or, when null, remove target's; anything else replaces target.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

// unmask replaces each Mask string in doc by cur's value at the same
// place; one cur has no value for is removed.
func unmask(doc, cur any) any {
	switch d := doc.(type) {
	case map[string]any:
		c, _ := cur.(map[string]any)
		for k, v := range d {
			if v == Mask {
				if cv, ok := c[k]; ok && cv != Mask {
					d[k] = cv
				} else {
					delete(d, k)
				}
				continue
			}
			d[k] = unmask(v, c[k])
		}
	case []any:
		c, _ := cur.([]any)
		for i, v := range d {
			var cv any
			if i < len(c) {
				cv = c[i]
			}
			d[i] = unmask(v, cv)
		}
	}
	return doc
}

// clone deep-copies a JSON value.
func clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// Refusal says what is wrong with a configuration setConfig was given,
// naming the field as the command does: "params.config.uplink.mqtt.broker:
// ..." (or params.patch, which the field came from).
func Refusal(param string, err error) string {
	e, ok := err.(*Error)
	if !ok {
		return param + ": " + err.Error()
	}
	s := param
	if e.Path != "" {
		s += "." + e.Path
	}
	s += ": " + e.Msg
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + " of the new file)"
	}
	return s
}
