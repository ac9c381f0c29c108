package rpc

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
)

// FuzzDeviceStateJSON: the result's appendJSON writes what json.Marshal
// writes, byte for byte, or fails where it fails, for results filled
// from the seed: every field, pointers nil or not, slices nil, empty or
// not, and the fuzzer's string in any string field. A field added to the
// result that appendJSON does not write fails here.
func FuzzDeviceStateJSON(f *testing.F) {
	f.Add(uint64(1), "gw-1")
	f.Add(uint64(2), "")
	f.Add(uint64(3), "quote \" backslash \\ <b>&</b> \u2028 \x7f \t")
	f.Add(uint64(4), "bad \xff utf-8")
	f.Add(uint64(5), "ü")
	f.Fuzz(func(t *testing.T, seed uint64, s string) {
		var r deviceStateResult
		fill(reflect.ValueOf(&r).Elem(), rand.New(rand.NewPCG(seed, seed>>32)), s)
		want, wantErr := json.Marshal(r)
		got, err := r.appendJSON(nil)
		switch {
		case (err != nil) != (wantErr != nil):
			t.Fatalf("appendJSON error %v; json.Marshal's %v\n%+v", err, wantErr, r)
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("appendJSON:\n got %s\nwant %s", got, want)
		}
	})
}

// TestDeviceStateJSONMatchesMarshal is the fuzz test's property over 200
// seeds, enough that each field is set, and each pointer nil, in some.
func TestDeviceStateJSONMatchesMarshal(t *testing.T) {
	for seed := range uint64(200) {
		var r deviceStateResult
		fill(reflect.ValueOf(&r).Elem(), rand.New(rand.NewPCG(seed, 7)), "x")
		want, wantErr := json.Marshal(r)
		got, err := r.appendJSON(nil)
		if wantErr != nil || err != nil {
			continue // a NaN drawn: the fuzz test compares the errors
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: appendJSON:\n got %s\nwant %s", seed, got, want)
		}
	}
}

// fill sets v, and every field of it, from rng: strings from a few that
// need escaping and s, numbers from some that json.Marshal writes in
// each of its forms (NaN rarely), pointers and slices nil or filled.
func fill(v reflect.Value, rng *rand.Rand, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString([]string{"", s, "a\"b\\c", "/tmp/state dir", "2026-12-08T10:15:30.123Z", s + "\u00e9"}[rng.IntN(6)])
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int64:
		v.SetInt([]int64{0, 1, -1, 42, math.MaxInt32, math.MinInt32}[rng.IntN(6)])
	case reflect.Uint64:
		v.SetUint([]uint64{0, 1, 1 << 40, math.MaxUint64}[rng.IntN(4)])
	case reflect.Float64:
		fs := []float64{0, math.Copysign(0, -1), 1.5, -3.25, 49981.555, 1e-7, 1e21, 123456789012345678901.0, 5e-324, math.MaxFloat64}
		if rng.IntN(50) == 0 {
			fs = []float64{math.NaN(), math.Inf(1)}
		}
		v.SetFloat(fs[rng.IntN(len(fs))])
	case reflect.Pointer:
		if rng.IntN(4) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), rng, s)
		}
	case reflect.Slice:
		switch n := rng.IntN(4); n {
		case 0: // nil
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				fill(v.Index(i), rng, s)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), rng, s)
		}
	default:
		panic("fill: a field of kind " + v.Kind().String() + ": teach fill and appendJSON")
	}
}
