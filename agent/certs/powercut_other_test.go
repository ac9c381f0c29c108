//go:build !(linux && (amd64 || arm64))

package certs

// servePowerCut: the power-cut test (powercut_test.go) needs go-fuse,
// which builds on 64-bit Linux only.
func servePowerCut() (int, bool) { return 0, false }
