package gpio

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzCountFile: whatever the saved count holds, a counter starts from
// it when it is a count, and refuses to start (never from 0) otherwise.
func FuzzCountFile(f *testing.F) {
	f.Add([]byte("3\n"))
	f.Add([]byte("18446744073709551615\n"))
	f.Add([]byte("-1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "gpio-m.count"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s := CounterSettings{Line: "1"}
		s.SetDefaults()
		c, err := NewCounter("m", dir, s, newFakeLine(true).open)
		want, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		switch {
		case perr != nil && err == nil:
			c.Close()
			t.Fatalf("count file %q: started", b)
		case perr == nil && err != nil:
			t.Fatalf("count file %q: %v", b, err)
		case err != nil:
			return
		}
		defer c.Close()
		rs, err := c.Read(context.Background())
		if err != nil || rs[0].Value != float64(want) {
			t.Fatalf("count file %q: Read = %v, %v; want %d", b, rs, err, want)
		}
	})
}
