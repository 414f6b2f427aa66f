package inspect

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// ErrorKind classifies why the cluster, or the -f input, could not be read.
type ErrorKind int

const (
	// Unreachable: no answer from the API server (connection refused, no
	// route, DNS, the server's certificate not trusted).
	Unreachable ErrorKind = iota + 1
	// Unauthorized: the API server refused the credentials (401: invalid
	// or expired, a client certificate from an unknown CA).
	Unauthorized
	// Forbidden: a read the answer cannot do without was refused (403).
	Forbidden
	// Timeout: --request-timeout, or the caller's deadline, passed.
	Timeout
	// ServerError: the API server answered a read the answer needs with
	// another error.
	ServerError
	// NotFound: an -f path does not exist.
	NotFound
	// Unreadable: an -f input exists but could not be read.
	Unreadable
	// Malformed: an -f input is not YAML or JSON Kubernetes objects, or
	// holds none (ErrNoObjects).
	Malformed
)

func (k ErrorKind) String() string {
	switch k {
	case Unreachable:
		return "unreachable"
	case Unauthorized:
		return "unauthorized"
	case Forbidden:
		return "forbidden"
	case Timeout:
		return "timeout"
	case ServerError:
		return "server error"
	case NotFound:
		return "not found"
	case Unreadable:
		return "unreadable"
	case Malformed:
		return "malformed"
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// Error means the cluster, or the -f input, could not be read: the command
// exits with status 3. It classifies; the command words it for users, as
// kubectl would.
type Error struct {
	Kind ErrorKind
	// Inputs are the -f inputs concerned (STDIN for -): the one that
	// failed, or all of them when none holds an object. None for the API
	// server.
	Inputs []string
	// Document is the 1-based document of Inputs[0] that is malformed, 0
	// when the error is not about one document.
	Document int
	// Err is the cause: the client-go, os or parse error, or ErrNoObjects.
	Err error
}

// Error is a short technical form (kind: cause); the command words the
// error for users.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Kind.String()
	}
	return e.Kind.String() + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoObjects is the cause of a Malformed error when the -f inputs hold no
// Kubernetes object.
var ErrNoObjects = errors.New("no objects found")

// errNotInstalled: no served version of an Istio kind (its CRD is absent).
var errNotInstalled = errors.New("not installed")

// isFatal tells the errors that end the run (the cluster cannot be read at
// all: no connection, timeout, bad credentials) from the ones that only
// leave one resource unread (forbidden, not served, a server-side error).
func isFatal(err error) bool {
	if err == nil || errors.Is(err, errNotInstalled) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Code == http.StatusUnauthorized
	}
	return true
}

// unreadFor describes a non-fatal read error for Snapshot.Unread.
func unreadFor(resource, ns string, err error) snapshot.Unread {
	u := snapshot.Unread{Resource: resource, Namespace: ns}
	switch {
	case errors.Is(err, errNotInstalled):
		u.Reason, u.Cause = "not installed", snapshot.UnreadNotInstalled
	case apierrors.IsForbidden(err):
		u.Cause = snapshot.UnreadForbidden
		u.Reason = "forbidden: " + forbiddenWhy(err)
	case apierrors.IsNotFound(err):
		u.Reason, u.Cause = "not served by the server", snapshot.UnreadNotInstalled
	default:
		u.Reason, u.Cause = err.Error(), snapshot.UnreadOther
	}
	return u
}

// forbiddenWhy is the authorizer's reason a Forbidden status gives
// (`User "jane" cannot list resource ...`): its message without the prefix
// the API server puts first (apierrors.NewForbidden: `<resource>[ "<name>"]
// is forbidden: `), rebuilt from the status details.
func forbiddenWhy(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err.Error()
	}
	s := status.Status()
	if d := s.Details; d != nil {
		prefix := schema.GroupResource{Group: d.Group, Resource: d.Kind}.String()
		if d.Name != "" {
			prefix += " " + strconv.Quote(d.Name)
		}
		prefix += " is forbidden: "
		if n := len(prefix); len(s.Message) > n && s.Message[:n] == prefix {
			return s.Message[n:]
		}
	}
	return s.Message
}

// classify turns a fatal error of the API server into an *Error.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var status apierrors.APIStatus
	var uerr *url.Error
	kind := ServerError
	switch {
	case isTimeout(err):
		kind = Timeout
	case apierrors.IsUnauthorized(err):
		kind = Unauthorized
	case apierrors.IsForbidden(err):
		kind = Forbidden
	case errors.As(err, &status):
		kind = ServerError
	case errors.As(err, &uerr):
		kind = Unreachable
	}
	return &Error{Kind: kind, Err: err}
}

// isTimeout covers the caller's deadline (context), the HTTP client timeout
// that --request-timeout sets, and network timeouts.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
