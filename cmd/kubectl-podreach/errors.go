package main

import (
	"context"
	"errors"
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// Exit statuses (documented in --help and the README).
const (
	exitOK         = 0 // every examined request reaches its target
	exitFails      = 1 // at least one request fails
	exitUsage      = 2 // bad arguments or flags, unknown pod, malformed URL
	exitUnreadable = 3 // the cluster (or the -f input) could not be read
)

// usageError is a problem with the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(msg string) error { return &usageError{msg: msg} }

// clusterError means the cluster could not be reached or the kubeconfig not
// used (exit status 3).
type clusterError struct {
	msg string
	err error
}

func (e *clusterError) Error() string { return e.msg }
func (e *clusterError) Unwrap() error { return e.err }

// kubeconfigErr explains a failure to build a client from the kubeconfig.
func kubeconfigErr(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return &clusterError{err: err, msg: "no cluster configured: set KUBECONFIG, --kubeconfig or --server, " +
			"read a dump with -f FILE, or try --example"}
	}
	return &clusterError{err: err, msg: "cannot use the kubeconfig: " + err.Error()}
}

func isReadError(err error) bool {
	var re *inspect.ReadError
	return errors.As(err, &re)
}

// exitCode maps an error to the documented exit status.
func exitCode(err error) int {
	var (
		ue  *usageError
		pe  *podref.Error
		xe  *explain.QueryError
		ce  *clusterError
		rde *inspect.ReadError
	)
	switch {
	case errors.As(err, &ue), errors.As(err, &pe), errors.As(err, &xe):
		return exitUsage
	case errors.As(err, &ce), errors.As(err, &rde), errors.Is(err, context.DeadlineExceeded):
		return exitUnreadable
	}
	return exitFails
}

// errorLine is the one line printed for err: "error: <msg>", except for
// messages that already carry kubectl's own prefix (inspect.ReadError words
// them as kubectl would: "Unable to connect to the server: ...",
// "Error from server (Forbidden): ...").
func errorLine(err error) string {
	msg := oneLine(err.Error())
	for _, p := range []string{"error: ", "Error from server", "Unable to connect to the server"} {
		if strings.HasPrefix(msg, p) {
			return msg
		}
	}
	return "error: " + msg
}

// oneLine folds a multi-line message so every error is a single line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
