// Package jsonw appends JSON exactly as json.Marshal
// (go-json-experiment/json, as encoding/json/v2) writes it, for the
// agent's appenders: the messages and results it writes often write
// their own JSON, without reflection, and tests hold each to
// json.Marshal's bytes.
package jsonw

import (
	"errors"
	"math"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// Writer appends JSON to B, keeping the first error in Err.
type Writer struct {
	B   []byte
	Err error
}

// Raw appends s as it is: punctuation and member names.
func (w *Writer) Raw(s string) { w.B = append(w.B, s...) }

// Str appends s as a JSON string, failing on invalid UTF-8 as
// json.Marshal does.
func (w *Writer) Str(s string) {
	if w.Err == nil {
		w.B, w.Err = jsontext.AppendQuote(w.B, s)
	}
}

// Int appends n.
func (w *Writer) Int(n int) { w.B = strconv.AppendInt(w.B, int64(n), 10) }

// Int64 appends n.
func (w *Writer) Int64(n int64) { w.B = strconv.AppendInt(w.B, n, 10) }

// Uint appends n.
func (w *Writer) Uint(n uint64) { w.B = strconv.AppendUint(w.B, n, 10) }

// Bool appends v.
func (w *Writer) Bool(v bool) { w.B = strconv.AppendBool(w.B, v) }

// Float appends f as AppendFloat does; NaN and the infinities are
// errors.
func (w *Writer) Float(f float64) {
	var err error
	if w.B, err = AppendFloat(w.B, f); err != nil && w.Err == nil {
		w.Err = err
	}
}

// AppendFloat appends f to b as json.Marshal writes a float64: the
// shortest decimal that reads back as the same number, in exponent form
// below 1e-6 and from 1e21 on, with no leading zero in the exponent. NaN
// and the infinities are not JSON: it returns b unchanged and an error,
// as json.Marshal fails on them.
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
