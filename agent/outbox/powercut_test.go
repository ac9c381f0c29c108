//go:build linux && (amd64 || arm64)

package outbox_test

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/powercut"
)

// The power-cut test is the crash test (crash_test.go) on a filesystem
// that loses what was not fsynced (internal/powercut): the power goes
// (no fsync completes from then on), the child is killed with SIGKILL,
// and every page written since the last fsync or fdatasync that
// completed is dropped, every other cut with a random half of them
// written first, whole or by sectors, as a disk's cache does. After each
// cut the store must open, unsalvaged, with every record whose
// Append returned (and memo whose AppendMemo did), as after a kill. Run more with
//
//	go test ./agent/outbox -run '^TestPowerCut$' -powercut.cuts=2000
//
// It needs FUSE (/dev/fuse, root), and says so when it skips.

// cardSync is how long each fsync takes on the test's filesystem: an SD
// card's order of magnitude, which leaves the cuts time to find data
// written and not synced.
const cardSync = 2 * time.Millisecond

// servePowerCut serves the power-cut test's filesystem when this test
// binary was started to (see powercut.Serve).
func servePowerCut() (int, bool) { return powercut.Serve() }

var powerCuts = flag.Int("powercut.cuts", 200, "power cuts TestPowerCut makes in total, over the crash test's variants")

func TestPowerCut(t *testing.T) {
	if err := powercut.Available(); err != nil {
		t.Skip("power cuts need FUSE:", err)
	}
	forEachCrashMode(t, "power cuts", *powerCuts, runPowerCuts)
}

// runPowerCuts cuts the power cuts times under children of mode m, on a
// filesystem of their own.
func runPowerCuts(t *testing.T, m crashMode, cuts int, seed uint64) {
	// The filesystem's server is this binary, native: the code under
	// test is the child's (childBinary, emulated in outbox-arch.sh).
	fsys := powercut.ForTest(t, seed, cardSync)
	rng := rand.New(rand.NewPCG(seed, 0x706f77657263))
	path := filepath.Join(fsys.Dir(), "outbox.db")
	began := time.Now()
	var tot crashTotals
	var dropped, torn int
	from := uint64(1)
	for round := range cuts {
		run := runCrashChild(t, path, m, from, rng, func() {
			if err := fsys.PowerOff(); err != nil {
				t.Fatal(err)
			}
		})
		d, tr, err := fsys.PowerCut(round%2 == 1)
		if err != nil {
			t.Fatalf("cut %d: %v", round+1, err)
		}
		dropped, torn = dropped+d, torn+tr
		from = checkAfterCrash(t, path, m, round, from, run, &tot)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d power cuts in %v, dropping %d unsynced pages, %d of them written torn or whole; %d numbers printed after Append returned nil, all checked; %d acked by the child; %d records drained after the reopens; %d cuts left a compaction's temporary file, %d compactions reported",
		m.name, tot.kills, time.Since(began).Round(time.Millisecond), dropped, torn, tot.printed, tot.acked, tot.drained, tot.midCompaction, tot.compactions)
}
