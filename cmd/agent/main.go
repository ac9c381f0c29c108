// Command agent is the iot-hub agent daemon: it reads the gateway's
// sensors, keeps every outgoing message in a durable outbox, and sends it
// to the backend over MQTT v5 or straight to Kafka; it answers the
// backend's RPC commands and renews its own client certificate.
//
// Usage:
//
//	agent run --config FILE     run the agent
//	agent check-config FILE     validate FILE and print the effective configuration
//	agent call --broker URL --device ID [--timeout 5s] METHOD [PARAMS-JSON]
//	                            call METHOD on a device and print its response
//	agent cert rotate --config FILE [--reason TEXT]
//	                            ask the running agent to renew its certificate
//	agent version               print the version
//
// The configuration is YAML; see docs/configuration.md and
// examples/demo.yaml. IOT_HUB_MQTT_USERNAME, IOT_HUB_MQTT_PASSWORD and
// IOT_HUB_KAFKA_PASSWORD override the file's credentials. run stops on
// SIGTERM or SIGINT, after the publishes in flight; a second signal exits
// at once. SIGHUP makes the MQTT uplink read its TLS files again for its
// next connection: the CA bundle, and the certificate and key unless the
// agent renews its own (then only the CA bundle). docs/commands.md says
// the same for operators.
//
// call is the backend's side of RPC, for operators and tests: it sends a
// device.command.rpc over MQTT v5 request/response and prints the
// device.response.rpc. It exits 0 on success, 1 on an error response, 2
// when no response came within the timeout and 3 when it could not ask;
// "agent call -h" lists its flags.
//
// This package only wires: each concern is a package under agent/.
// runAgent (daemon.go) owns what it starts: the outbox, the embedded
// broker, and a task (tasks.go) per component that runs, each stopped
// and waited for.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/iot-hub/agent/agent/config"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the agent failed, or the configuration is invalid
	exitUsage = 2 // the command line is wrong
	// exitRestart: stopped cleanly for restartAgent, to be started again
	// (EX_TEMPFAIL): systemd's Restart=always does, and so does any
	// supervisor that restarts on failure.
	exitRestart = 75
)

const usage = `Usage:
  agent run --config FILE     run the agent
  agent check-config FILE     validate FILE and print the effective configuration,
                              secrets masked
  agent call --broker URL --device ID [--timeout 5s] METHOD [PARAMS-JSON]
                              call METHOD on a device and print its response
  agent cert rotate --config FILE [--reason TEXT]
                              ask the running agent to renew its client
                              certificate now
  agent qr --config FILE [--png FILE]
                              print the gateway's binding QR code (device id
                              and claim code), and write it as a PNG
  agent version               print the version

IOT_HUB_MQTT_USERNAME and IOT_HUB_MQTT_PASSWORD, when set, override the
configuration's MQTT username and password (and are call's credentials);
IOT_HUB_KAFKA_PASSWORD overrides uplink.kafka.sasl.password.

agent call exits 0 on success, 1 on an error response, 2 on timeout (no
response) and 3 when it could not ask; "agent call -h" lists its flags.
`

// run runs the command line args (without the program name) and returns
// the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to stdout for -h
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprint(stderr, "\n"+usage)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := fs.Arg(0), fs.Args()[1:]; cmd {
	case "run":
		return runCmd(rest, stderr)
	case "check-config":
		return checkConfigCmd(rest, stdout, stderr)
	case "call":
		return callCmd(rest, stdout, stderr)
	case "cert":
		return certCmd(rest, stdout, stderr)
	case "qr":
		return qrCmd(rest, stdout, stderr)
	case "version":
		if len(rest) > 0 {
			fmt.Fprintln(stderr, "agent version: takes no arguments")
			return exitUsage
		}
		fmt.Fprintf(stdout, "agent %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "agent: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// runCmd is "agent run --config FILE".
func runCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the configuration `FILE` (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "Usage: agent run --config FILE")
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	launched := launchInstalled(cfg.StateDir, stderr) // returns in the binary that is to run
	cfg, remote, err := configToRun(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	if configTestHook != nil {
		configTestHook(cfg)
	}
	// Listen before anything starts, so that no signal is missed.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	log, ring := keepLogs(cfg, newLogger(cfg.Log, stderr))
	if remote.note != "" {
		log.Warn("setConfig: " + remote.note)
	}
	if launched != "" {
		log.Warn("updateAgent: " + launched)
	}
	return runAgent(cfg, remote, log, ring, sigs)
}

// checkConfigCmd is "agent check-config FILE".
func checkConfigCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "Usage: agent check-config FILE")
		return exitUsage
	}
	cfg, err := config.Load(args[0])
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	b, err := cfg.MaskedYAML()
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	stdout.Write(b)
	return exitOK
}
