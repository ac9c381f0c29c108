package main

import (
	"flag"
	"fmt"
	"io"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/iot-hub/agent/agent/binding"
	"github.com/iot-hub/agent/agent/config"
)

// qrUsage is the help of agent qr.
const qrUsage = `Usage: agent qr --config FILE [--png FILE] [--size PIXELS]

Prints the gateway's binding QR code on the terminal: a JSON object
{"deviceId": ..., "claimCode": ...} that the platform's app reads and
posts to bind-qr. The claim code is made the first time and kept in the
state directory (claim-code, 0600); whoever holds it can bind the
gateway, so it is shown here and nowhere else. With --png the code is
also written as a PNG of PIXELS square (default 512), for a label.
`

// qrCmd is "agent qr --config FILE [--png FILE] [--size PIXELS]".
func qrCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent qr", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "", "")
	png := fs.String("png", "", "")
	size := fs.Int("size", 512, "")
	switch err := fs.Parse(args); {
	case err == flag.ErrHelp:
		fmt.Fprint(stdout, qrUsage)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "agent qr: %v\n\n%s", err, qrUsage)
		return exitUsage
	case *path == "" || fs.NArg() > 0:
		fmt.Fprintf(stderr, "agent qr: --config FILE is required, and nothing else\n\n%s", qrUsage)
		return exitUsage
	case *size < 64 || *size > 4096:
		fmt.Fprintf(stderr, "agent qr: --size %d: want 64..4096 pixels\n", *size)
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "agent qr:", err)
		return exitError
	}
	claim, err := binding.ClaimCode(cfg.StateDir)
	if err != nil {
		fmt.Fprintln(stderr, "agent qr:", err)
		return exitError
	}
	q, err := qrcode.New(binding.QRText(cfg.DeviceID, claim), qrcode.Medium)
	if err != nil {
		fmt.Fprintln(stderr, "agent qr:", err)
		return exitError
	}
	if *png != "" {
		if err := q.WriteFile(*size, *png); err != nil {
			fmt.Fprintln(stderr, "agent qr:", err)
			return exitError
		}
	}
	fmt.Fprint(stdout, q.ToSmallString(false))
	fmt.Fprintf(stdout, "device %s, claim code %s\n", cfg.DeviceID, claim)
	if *png != "" {
		fmt.Fprintf(stdout, "written to %s (%d×%d pixels)\n", *png, *size, *size)
	}
	return exitOK
}
