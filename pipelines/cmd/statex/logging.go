package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The libraries' loggers are process-wide and controller-runtime takes
// only the first one it is given, so there is one handler, set once; each
// invocation points it at its own stderr and level.
var (
	logOnce    sync.Once
	logHandler slog.Handler
	logLevel   = new(slog.LevelVar)
	logOut     = &switchWriter{}
)

// switchWriter writes to the writer set last.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// setupLogging sends the libraries' logs (client-go through klog,
// controller-runtime, fluxcd's ssa through controller-runtime) to stderr
// through one log/slog handler at the level -v asks for: -v N shows
// logr's V(N) and below, as kubectl's -v does. Without it controller-runtime
// buffers its logs and then drops them, and an API server's warnings are
// lost.
func (a *app) setupLogging() {
	logOut.set(a.stderr)
	// logr's V(n) is slog level -n.
	logLevel.Set(slog.Level(-a.verbosity))
	logOnce.Do(func() {
		logHandler = slog.NewTextHandler(logOut, &slog.HandlerOptions{
			Level: logLevel,
			// Progress lines have no timestamps either; the level says
			// what a line is.
			ReplaceAttr: func(groups []string, attr slog.Attr) slog.Attr {
				if len(groups) == 0 && attr.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return attr
			},
		})
		crlog.SetLogger(logr.FromSlogHandler(logHandler))
		klog.SetSlogLogger(slog.New(logHandler))
	})
	a.log = slog.New(logHandler)
	// klog filters V(n) by its own -v before its logger sees the call.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	klog.InitFlags(fs)
	_ = fs.Set("v", strconv.Itoa(a.verbosity))
	if a.warnings == nil {
		a.warnings = &apiWarnings{}
	}
	a.warnings.log = a.log
}

// apiWarnings is client-go's warning handler for every client a verb
// builds (check, drill, deploy, fluxcd's ssa through controller-runtime
// all copy the REST config, and with it the handler): each distinct
// warning (a deprecated API, a Pod Security violation admitted in warn
// mode) is logged once at warning level, which -v never hides, and kept
// for the reports (JSON, text, Markdown, step summary).
type apiWarnings struct {
	mu   sync.Mutex
	seen []string
	log  *slog.Logger
}

func (w *apiWarnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, message string) {
	// 299 is the code of Kubernetes' warnings (RFC 7234's "miscellaneous
	// persistent warning"); anything else is not the API server's.
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seen {
		if s == message {
			return
		}
	}
	w.seen = append(w.seen, message)
	if w.log != nil {
		w.log.Warn("API server warning", "message", message)
	}
}

// list is the warnings seen so far, in order.
func (w *apiWarnings) list() []string {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// warn logs what is worth saying but does not stop the verb.
func (a *app) warn(msg string, err error) { a.log.Warn(msg, "error", err) }
