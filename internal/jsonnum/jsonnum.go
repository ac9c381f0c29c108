// Package jsonnum writes a float64 as encoding/json/v2 (and
// go-json-experiment/json, which the agent uses) writes it: the shortest
// decimal that reads back as the same number, in exponent form below
// 1e-6 and from 1e21 on, with no leading zero in the exponent. It is for
// the agent's appenders, which write their JSON without reflection and
// must write exactly what json.Marshal writes.
package jsonnum

import (
	"errors"
	"math"
	"strconv"
)

// AppendFloat appends f to b as json.Marshal writes a float64. NaN and
// the infinities are not JSON: it returns b unchanged and an error, as
// json.Marshal fails on them.
func AppendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errors.New("unsupported value: " + strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1] // e-09 → e-9
		b = b[:n-1]
	}
	return b, nil
}
