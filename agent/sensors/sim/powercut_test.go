//go:build linux && (amd64 || arm64)

package sim_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/internal/powercut"
)

func TestMain(m *testing.M) {
	if code, served := powercut.Serve(); served {
		os.Exit(code) // TestPowerCutSeq's filesystem
	}
	if dir, ok := os.LookupEnv(envSeqChild); ok {
		os.Exit(seqChild(dir)) // TestPowerCutSeq's child
	}
	os.Exit(m.Run())
}

// TestPowerCutSeq cuts the power, 40 times, under a child reading a sim
// sensor as fast as it can, on internal/powercut's filesystem, which
// drops what was not fsynced (see agent/outbox's TestPowerCut). After
// each cut the sensor's next seq must be past every seq a read returned:
// a reading's seq is never given twice.
func TestPowerCutSeq(t *testing.T) {
	const cuts = 40
	fsys := powercut.ForTest(t, uint64(time.Now().UnixNano()), 2*time.Millisecond)
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var dropped, torn int
	var reads uint64
	for cut := range cuts {
		last := runSeqChild(t, fsys, rng)
		d, tr, err := fsys.PowerCut(cut%2 == 1)
		if err != nil {
			t.Fatal(err)
		}
		dropped, torn = dropped+d, torn+tr
		s, err := sim.New(sim.Config{Name: "probe", StateDir: fsys.Dir()})
		if err != nil {
			t.Fatalf("cut %d: %v", cut+1, err)
		}
		if s.Seq() < last {
			t.Fatalf("cut %d: the sensor starts again from seq %d; a read had returned %d", cut+1, s.Seq(), last)
		}
		reads = s.Seq()
	}
	t.Logf("%d power cuts under %d reads, dropping %d unsynced pages, %d of them written torn or whole: no seq given twice", cuts, reads, dropped, torn)
}

// envSeqChild, set to a directory, makes the test binary TestPowerCutSeq's
// child: it reads the sim sensor "probe" there for ever, printing each
// seq once its read returned.
const envSeqChild = "SIM_POWERCUT_CHILD"

func seqChild(dir string) int {
	s, err := sim.New(sim.Config{Name: "probe", StateDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "seq child:", err)
		return 2
	}
	for {
		if _, err := s.Read(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "seq child:", err) // the power gone
			return 1
		}
		fmt.Printf("S %d\n", s.Seq())
	}
}

// runSeqChild starts a child reading the sensor and cuts the power under
// it, after its first read and a random delay. It returns the last seq
// a read returned.
func runSeqChild(t *testing.T, fsys *powercut.Proc, rng *mrand.Rand) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSeqChild+"="+fsys.Dir())
	last, err := fsys.RunWriter(cmd, "S", time.Duration(rng.Int64N(int64(20*time.Millisecond))))
	if err != nil {
		t.Fatal(err)
	}
	return last
}
