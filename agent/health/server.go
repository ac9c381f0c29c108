package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/iot-hub/agent/internal/lograte"
)

// ShutdownTimeout bounds Run's wait, once its ctx ends, for the requests
// being answered; those still running then are cut.
const ShutdownTimeout = 2 * time.Second

// Server serves /healthz and /metrics on a loopback address, and POST
// /v1/rpc/{method} when its Sources have Commands. Listen makes
// it; Run serves until its context ends. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	src     Sources
	metrics *Metrics
	ln      net.Listener
	srv     *http.Server
	started time.Time
	// requestErrors logs what goes wrong serving a request, net/http's
	// lines included: every request can repeat it, so it writes a line a
	// minute, the next saying how many it suppressed.
	requestErrors *slog.Logger
}

// Listen checks cfg and listens on cfg.Listen; the Server reads src and
// m (nil: a Metrics of its own, all zero) at each request. The caller
// owns the Server: it must Run it, or Close it.
func Listen(cfg Config, src Sources, m *Metrics) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	cfg = cfg.withDefaults()
	if m == nil {
		m = NewMetrics()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("health: listen: %w", err)
	}
	s := &Server{cfg: cfg, src: src, metrics: m, ln: ln, started: cfg.Clock.Now()}
	s.requestErrors = slog.New(lograte.NewHandler(cfg.Logger.Handler(), lograte.Config{Clock: cfg.Clock}, func(slog.Record) string { return "" }))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.serveHealth) // GET serves HEAD too
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	if src.Commands != nil {
		mux.HandleFunc("POST /v1/rpc/{method}", s.serveRPC)
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(s.requestErrors.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the server listens on: with port 0 in
// Config.Listen, the port picked.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then waits up to ShutdownTimeout for the
// requests being answered, closes the listener and returns nil; or it
// returns the error that stopped it serving. Run it once.
func (s *Server) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	select {
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) { // Close was called
			return nil
		}
		return fmt.Errorf("health: serve: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(stopCtx); err != nil {
		s.cfg.Logger.Warn("health: requests cut short by the stop", "err", err)
		_ = s.srv.Close()
	}
	<-served
	return nil
}

// Close stops the server at once: the listener and every connection are
// closed, and Run, if running, returns nil. It is for a Server that is
// not Run, or whose Run cannot wait.
func (s *Server) Close() error {
	err := s.srv.Close()
	if lerr := s.ln.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("health: close: %w", err)
	}
	return nil
}
