package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQRCommand: agent qr prints the binding QR code in block characters
// with the device id and its claim code, the same code every time, and
// writes a PNG of the size asked for, black and white; without a state
// directory it says to start the agent first.
func TestQRCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, "deviceId: gw-qr\nstateDir: "+state+"\nuplink: {mqtt: {broker: mqtt://127.0.0.1:1883}}\n")
	if code, _, stderr := runArgs("qr", "--config", cfg); code != exitError || !strings.Contains(stderr, "start the agent once") {
		t.Errorf("agent qr with no state directory: %d, %q; want 1 and a hint to start the agent first", code, stderr)
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	label := filepath.Join(t.TempDir(), "label.png")
	code, stdout, stderr := runArgs("qr", "--config", cfg, "--png", label, "--size", "300")
	if code != exitOK || stderr != "" {
		t.Fatalf("agent qr = %d, stderr %q", code, stderr)
	}
	claim, err := os.ReadFile(filepath.Join(state, "claim-code"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "█") || !strings.Contains(stdout, "▀") ||
		!strings.Contains(stdout, "device gw-qr, claim code "+strings.TrimSpace(string(claim))) {
		t.Errorf("agent qr printed:\n%s\nwant a QR code in block characters, the device and the claim code %s", stdout, claim)
	}
	if _, again, _ := runArgs("qr", "--config", cfg); !strings.Contains(again, strings.TrimSpace(string(claim))) {
		t.Errorf("a second agent qr printed another claim code:\n%s", again)
	}

	f, err := os.Open(label)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the PNG: %v", err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 300, 300) {
		t.Errorf("the PNG is %v; want 300×300", b)
	}
	dark := 0
	for y := 0; y < 300; y += 3 {
		for x := 0; x < 300; x += 3 {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				dark++
			}
		}
	}
	if dark < 1000 || dark > 9000 {
		t.Errorf("%d of 10000 samples dark; want a QR code's pattern, neither blank nor black", dark)
	}

	if code, _, stderr := runArgs("qr", "--config", cfg, "--size", "10"); code != exitUsage || !strings.Contains(stderr, "--size") {
		t.Errorf("agent qr --size 10 = %d, %q; want 2 naming --size", code, stderr)
	}
}
