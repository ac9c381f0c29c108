package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/config"
)

// referencePage is the configuration reference: every key of the file,
// with its default and limits, in yaml blocks that are complete files.
var referencePage = filepath.Join("..", "..", "docs", "configuration.md")

// TestReferenceDefaults checks that the reference's first block, the
// whole file for the MQTT uplink, gives every key its default: it reads
// as a file that sets only what is required.
func TestReferenceDefaults(t *testing.T) {
	blocks := yamlBlocks(readReference(t))
	if len(blocks) == 0 {
		t.Fatalf("%s has no yaml block", referencePage)
	}
	c, err := config.Parse([]byte(blocks[0]), nil)
	if err != nil {
		t.Fatalf("%s, yaml block 1: %v", referencePage, err)
	}
	defaults, err := config.Parse([]byte("deviceId: gw-0042\nuplink: {mqtt: {broker: \"mqtts://broker:8883\"}}\nsensors: [{name: sim, type: sim, interval: 1s}, {name: board, type: thermal, interval: 30s}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.MaskedYAML()
	want, _ := defaults.MaskedYAML()
	if string(got) != string(want) {
		t.Errorf("%s's first block is not the defaults:\n%s\nwant\n%s", referencePage, got, want)
	}
}

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referencePage)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// yamlBlocks returns the bodies of the page's ```yaml blocks.
func yamlBlocks(page string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(page, "```yaml\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "```\n")
		if !ok {
			return blocks
		}
		blocks = append(blocks, block)
		page = after
	}
}
