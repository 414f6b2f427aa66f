package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
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

// readError is an *inspect.Error with what the command knows to word it:
// the API server it read from and --request-timeout as given.
type readError struct {
	err            *inspect.Error
	server         string // the API server's URL; "" for -f
	requestTimeout string
}

// Error is the whole line to print, in kubectl's words
// (k8s.io/kubectl/pkg/cmd/util/helpers.go StandardErrorMessage), prefix
// included ("error: …", "Unable to connect to the server: …", "Error from
// server (Forbidden): …"), naming the API server unless the line does.
func (e *readError) Error() string {
	line := e.words()
	if e.server != "" && !strings.Contains(line, hostOnly(e.server)) {
		line += " (server " + e.server + ")"
	}
	return line
}

func (e *readError) Unwrap() error { return e.err }

func (e *readError) words() string {
	cause := e.err.Err
	var status apierrors.APIStatus
	hasStatus := errors.As(cause, &status)
	switch e.err.Kind {
	case inspect.Timeout:
		if e.requestTimeout != "" && e.requestTimeout != "0" {
			return "error: the server could not be reached within --request-timeout=" + e.requestTimeout
		}
		return "Unable to connect to the server: " + innermost(cause).Error()
	case inspect.Unreachable:
		return "Unable to connect to the server: " + innermost(cause).Error()
	case inspect.Unauthorized:
		if hasStatus {
			return fmt.Sprintf("error: You must be logged in to the server (%s)", status.Status().Message)
		}
	case inspect.Forbidden, inspect.ServerError:
		if hasStatus && status.Status().Reason != "" {
			return fmt.Sprintf("Error from server (%s): %v", status.Status().Reason, cause)
		}
		if hasStatus {
			return fmt.Sprintf("Error from server: %v", cause)
		}
	case inspect.NotFound:
		return fmt.Sprintf("error: the path %q does not exist", e.input())
	case inspect.Unreadable:
		var pe *fs.PathError
		if errors.As(cause, &pe) {
			return "error: " + cause.Error() // names the path
		}
		return fmt.Sprintf("error: reading %s: %v", e.input(), cause)
	case inspect.Malformed:
		if errors.Is(cause, inspect.ErrNoObjects) {
			return "error: no objects found in " + strings.Join(e.err.Inputs, ", ")
		}
		return fmt.Sprintf("error: %s: document %d: %v", e.input(), e.err.Document, cause)
	}
	if cause == nil {
		return "error: " + e.err.Kind.String()
	}
	return "error: " + cause.Error()
}

func (e *readError) input() string {
	if len(e.err.Inputs) == 0 {
		return ""
	}
	return e.err.Inputs[0]
}

// innermost is what a failed HTTP request failed on, without the request.
func innermost(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// hostOnly drops the scheme and path of an API server URL.
func hostOnly(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return u.Host
	}
	return server
}

// wordedReader turns the reader's *inspect.Error into a *readError.
type wordedReader struct {
	inspect.Reader
	server, requestTimeout string
}

func (r wordedReader) Read(ctx context.Context, req inspect.Request) (*inspect.Result, error) {
	res, err := r.Reader.Read(ctx, req)
	var ie *inspect.Error
	if errors.As(err, &ie) {
		err = &readError{err: ie, server: r.server, requestTimeout: r.requestTimeout}
	}
	return res, err
}

// wordReadError words an *inspect.Error of the -f or --with input as
// kubectl would (exit status 3).
func wordReadError(err error) error {
	var ie *inspect.Error
	if errors.As(err, &ie) {
		return &readError{err: ie}
	}
	return err
}

// exitCode maps an error to the documented exit status.
func exitCode(err error) int {
	var (
		ue *usageError
		pe *podref.Error
		qe *explain.QueryError
		ce *clusterError
		ie *inspect.Error
	)
	switch {
	case errors.As(err, &ue), errors.As(err, &pe), errors.As(err, &qe):
		return exitUsage
	case errors.As(err, &ce), errors.As(err, &ie), errors.Is(err, context.DeadlineExceeded):
		return exitUnreadable
	}
	return exitFails
}

// errorLine is the one line printed for err: "error: <msg>", except for a
// read error, which is worded whole as kubectl words it.
func errorLine(err error) string {
	var re *readError
	if errors.As(err, &re) {
		return oneLine(re.Error())
	}
	return "error: " + oneLine(err.Error())
}

// oneLine folds a multi-line message so every error is a single line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// The fleet forms' usage errors (Options.Validate).

func errDSTRequired(src podref.Ref) error {
	return usageErr(fmt.Sprintf("DST is required after SRC %q: a pod, a URL or host:port; "+
		"or select several with -l SELECTOR, -A or -n NAMESPACE", src.Raw))
}

func errDetailsSingle() error {
	return usageErr("--details applies to the fleet forms (-l, -A, -n NS, several DSTs, --peers); SRC DST already prints every request")
}

func errURLInFleet(url string) error {
	return usageErr(fmt.Sprintf("a URL DST is a single target: %q cannot be combined with other DSTs, -l, -A or --peers; "+
		"run it alone (kubectl podreach SRC %s)", url, url))
}

func errPeersArgs(refs []podref.Ref) error {
	return usageErr(fmt.Sprintf("--peers takes one workload (sts/NAME, deploy/NAME, ds/NAME, rs/NAME) or -l SELECTOR, got %s",
		strings.Join(raws(refs), " ")))
}

func errPeersBoth(ref podref.Ref) error {
	return usageErr(fmt.Sprintf("--peers takes either a workload (%s) or -l SELECTOR, not both", ref.Raw))
}

func errPeersPod(ref podref.Ref) error {
	return usageErr(fmt.Sprintf("--peers needs a workload or -l SELECTOR: pod %q alone has no peers (try sts/NAME or deploy/NAME)", ref.Raw))
}

func errPeersNothing() error {
	return usageErr("--peers needs a workload (--peers sts/etcd, --peers deploy/NAME) or -l SELECTOR (with -n NS or -A)")
}

func errSelectAndDST(flag string, refs []podref.Ref) error {
	return usageErr(fmt.Sprintf("%s selects the destinations: give either DSTs (%s) or %s, not both",
		flag, strings.Join(raws(refs), " "), flag))
}

func errDotFleet() error {
	return usageErr("-o dot draws the requests of one pair; for the fleet forms use -o json|yaml, the table, or --details (or run SRC DST for one pair)")
}

func errNoPairs(what string) error {
	return usageErr("no pairs to examine: " + what)
}

// parseSelector parses -l as kubectl does (labels.Parse).
func parseSelector(s string) (labels.Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, usageErr(fmt.Sprintf("invalid -l %q: %v", s, err))
	}
	return sel, nil
}

func raws(refs []podref.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Raw
	}
	return out
}
