package certs

import (
	"crypto/x509"
	"math/rand/v2"
	"time"
)

// Renewal happens at a random point between these fractions of a
// certificate's lifetime, so that a fleet issued at once does not renew
// at once.
const (
	renewFrom = 0.70
	renewTo   = 0.90
)

// RenewAt returns when to start renewing cert: NotBefore plus a random
// 70% to 90% of its lifetime (NotAfter - NotBefore). rnd returns a number
// in [0, 1), like rand.Float64; nil means math/rand/v2's Float64. Values
// outside [0, 1] (and NaN) are clamped, so the result always lies in the window.
func RenewAt(cert *x509.Certificate, rnd func() float64) time.Time {
	if rnd == nil {
		rnd = rand.Float64
	}
	r := rnd()
	if !(r >= 0) { // also NaN
		r = 0
	}
	r = min(r, 1)
	life := cert.NotAfter.Sub(cert.NotBefore)
	frac := renewFrom + (renewTo-renewFrom)*r
	return cert.NotBefore.Add(time.Duration(float64(life) * frac))
}
