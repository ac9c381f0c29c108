package jsonw

import (
	"math"
	"testing"

	"github.com/go-json-experiment/json"
)

// FuzzAppendFloat: AppendFloat writes what json.Marshal writes for a
// float64, or fails where it fails.
func FuzzAppendFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1.5, 49981.555, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21,
		123456789012345678901.0, 5e-324, math.MaxFloat64, -math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		want, wantErr := json.Marshal(v)
		got, err := AppendFloat([]byte("x"), v)
		switch {
		case (err != nil) != (wantErr != nil):
			t.Fatalf("AppendFloat(%v): error %v; json.Marshal's %v", v, err, wantErr)
		case err != nil && string(got) != "x":
			t.Fatalf("AppendFloat(%v) failed and wrote %q; want nothing written", v, got)
		case err == nil && string(got) != "x"+string(want):
			t.Fatalf("AppendFloat(%v) = %q; json.Marshal writes %q", v, got[1:], want)
		}
	})
}
