package serialport

import (
	"errors"
	"fmt"
	"sync"
)

// Ports is the registry of the ports the daemon's sensors share: every
// sensor configured with the same path gets the same [*Port], hence the
// same queue. The zero value is ready; it is safe for concurrent use. The
// one who made it closes it, which closes its ports.
type Ports struct {
	mu     sync.Mutex
	ports  map[string]*Port // by cleaned path
	closed bool
}

// Get returns the port at cfg.Path, made by the first Get of that path
// and shared by the later ones. A later cfg must frame bytes the same way
// (baud, data bits, parity, stop bits): otherwise Get fails with an
// error naming both framings. Its other fields (backoff, logger) are
// ignored. Paths are compared as written (after filepath.Clean): two
// different symlinks to one device make two ports, which must not be.
func (ps *Ports) Get(cfg Config) (*Port, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, fmt.Errorf("serialport: get %s: %w", cfg.Path, ErrClosed)
	}
	if p, ok := ps.ports[cfg.Path]; ok {
		if have, want := p.cfg.framing(), cfg.framing(); have != want {
			return nil, fmt.Errorf("serialport: %s configured twice with different framing: %s and %s", cfg.Path, have, want)
		}
		return p, nil
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if ps.ports == nil {
		ps.ports = make(map[string]*Port)
	}
	ps.ports[cfg.Path] = p
	return p, nil
}

// Close closes every port (see [Port.Close]); later Gets fail with
// ErrClosed. It returns the ports' errors joined.
func (ps *Ports) Close() error {
	ps.mu.Lock()
	ports := ps.ports
	ps.ports, ps.closed = nil, true
	ps.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, 0, len(ports))
	var mu sync.Mutex
	for _, p := range ports {
		wg.Go(func() {
			if err := p.Close(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
