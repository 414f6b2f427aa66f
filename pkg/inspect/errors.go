package inspect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

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
		// "x is forbidden: User ... cannot list ..." → "forbidden: User ... cannot list ..."
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, "is forbidden: "); ok {
			msg = after
		}
		u.Reason = "forbidden: " + msg
	case apierrors.IsNotFound(err):
		u.Reason, u.Cause = "not served by the server", snapshot.UnreadNotInstalled
	default:
		u.Reason, u.Cause = err.Error(), snapshot.UnreadOther
	}
	return u
}

// toReadError words a fatal error the way kubectl does
// (k8s.io/kubectl/pkg/cmd/util/helpers.go StandardErrorMessage), so that
// users recognise it. timeout is --request-timeout as given ("" if unset).
func toReadError(err error, timeout string) *ReadError {
	var re *ReadError
	if errors.As(err, &re) {
		return re
	}
	var status apierrors.APIStatus
	var uerr *url.Error
	switch {
	case isTimeout(err):
		if timeout != "" && timeout != "0" {
			return &ReadError{Msg: fmt.Sprintf("error: the server could not be reached within --request-timeout=%s", timeout), Err: err}
		}
		return &ReadError{Msg: "Unable to connect to the server: " + innermost(err).Error(), Err: err}
	case errors.As(err, &status):
		s := status.Status()
		switch {
		case s.Reason == metav1.StatusReasonUnauthorized:
			return &ReadError{Msg: fmt.Sprintf("error: You must be logged in to the server (%s)", s.Message), Err: err}
		case s.Reason != "":
			return &ReadError{Msg: fmt.Sprintf("Error from server (%s): %s", s.Reason, err.Error()), Err: err}
		default:
			return &ReadError{Msg: "Error from server: " + err.Error(), Err: err}
		}
	case errors.As(err, &uerr):
		return &ReadError{Msg: "Unable to connect to the server: " + uerr.Err.Error(), Err: err}
	}
	return &ReadError{Msg: "error: " + err.Error(), Err: err}
}

// isTimeout covers the caller's deadline (context), the HTTP client timeout
// that --request-timeout sets, and network timeouts.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	// client-go's rate limiter does not always wrap the context error.
	return strings.Contains(err.Error(), "context deadline exceeded")
}

func innermost(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
