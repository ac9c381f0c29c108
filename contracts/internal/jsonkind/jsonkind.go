// Package jsonkind names kinds of JSON values for error messages, the same
// way in contracts and contracts/legacy.
package jsonkind

import "github.com/go-json-experiment/json/jsontext"

// Name returns the name of the kind of JSON value that starts with k
// ("null", "boolean", "string", "number", "object", "array"), or "nothing"
// when no value starts with k.
func Name(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "nothing"
}
