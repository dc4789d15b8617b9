package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// probeTimeout bounds the reachability probe: an API server that does not
// answer /version in this time is not one a deploy or a drill can use.
const probeTimeout = 10 * time.Second

// UnreachableError says the API server could not be used at all: no
// connection, no TLS, or no answer. Verbs that need a cluster stop on it
// before doing anything (the CLI exits 2).
type UnreachableError struct {
	// Server is the API server's URL without user info or query.
	Server string
	// Err is the cause, without the request URL (see Reachable).
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("API server %s is unreachable: %v", e.Server, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// IsUnreachable reports whether err is (or wraps) an UnreachableError.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

// ServerURL is the config's API server address fit for messages: a URL
// may carry user info (https://user:password@host) and the message must
// not.
func ServerURL(cfg *rest.Config) string {
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Host == "" {
		// Not a URL (a bare host:port, or garbage): show nothing that could
		// be a credential.
		return "(server address not a URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Reachable asks the API server for its version. Any transport failure is
// an *UnreachableError naming the server; an API server that answers with
// an error status (the credentials refused, say) is reported as such.
// Neither names credentials: the URL is stripped of user info and the
// request URL is cut from the cause.
func Reachable(ctx context.Context, cfg *rest.Config) error {
	if cfg == nil {
		return errors.New("no cluster config")
	}
	server := ServerURL(cfg)
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = probeTimeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return &UnreachableError{Server: server, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	switch {
	case err == nil, apierrors.IsForbidden(err):
		// Forbidden: it knows who we are; what we may do is the verb's
		// business.
		return nil
	case errors.As(err, new(apierrors.APIStatus)):
		// It answered: reachable, but refusing us.
		return fmt.Errorf("API server %s refused the request: %w", server, err)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // "Get "https://…/version?timeout=10s": " says nothing more
	}
	return &UnreachableError{Server: server, Err: err}
}
