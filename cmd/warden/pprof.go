package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
)

// startProfiler serves net/http/pprof on the address in WARDEN_PPROF, for
// measuring the daemon under load (issue 3). It is a developer's switch,
// not a documented option: unset, nothing listens. With it, block and
// mutex profiles are sampled too.
func startProfiler(log *slog.Logger) {
	addr := os.Getenv("WARDEN_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn("WARDEN_PPROF: not listening", "addr", addr, "err", err)
		return
	}
	runtime.SetBlockProfileRate(int(1e6)) // one sample per ms blocked
	runtime.SetMutexProfileFraction(100)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	log.Warn("WARDEN_PPROF: profiling endpoints served", "addr", ln.Addr().String())
	go func() { _ = http.Serve(ln, mux) }()
}
