package main

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podreach/kubectl-podreach/pkg/inspect"
)

// The command words inspect's classified errors as kubectl does; the e2e
// suite checks the same lines against a real API server.
func TestReadErrorWords(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/api/v1/namespaces/demo/pods/src", Err: &net.OpError{
		Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	deadline := &url.Error{Op: "Get", URL: "https://x/api", Err: context.DeadlineExceeded}
	x509 := &url.Error{Op: "Get", URL: "https://x/api", Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}
	getForbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "src",
		errors.New(`User "jane" cannot get resource "pods" in API group "" in the namespace "demo"`))
	live := func(kind inspect.ErrorKind, err error) *inspect.Error { return &inspect.Error{Kind: kind, Err: err} }
	file := func(kind inspect.ErrorKind, doc int, err error, inputs ...string) *inspect.Error {
		return &inspect.Error{Kind: kind, Inputs: inputs, Document: doc, Err: err}
	}
	tests := []struct {
		err     *inspect.Error
		server  string
		timeout string
		want    string
	}{
		{live(inspect.Unreachable, refused), "", "", "Unable to connect to the server: dial tcp 127.0.0.1:1: connect: connection refused"},
		// The line names the server unless it does already.
		{live(inspect.Unreachable, refused), "https://127.0.0.1:1", "", "Unable to connect to the server: dial tcp 127.0.0.1:1: connect: connection refused"},
		{live(inspect.Unreachable, x509), "", "", "Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{live(inspect.Unauthorized, apierrors.NewUnauthorized("Unauthorized")), "https://10.0.0.1:6443", "",
			"error: You must be logged in to the server (Unauthorized) (server https://10.0.0.1:6443)"},
		{live(inspect.Timeout, deadline), "", "2s", "error: the server could not be reached within --request-timeout=2s"},
		{live(inspect.Timeout, deadline), "", "", "Unable to connect to the server: context deadline exceeded"},
		{live(inspect.Timeout, deadline), "", "0", "Unable to connect to the server: context deadline exceeded"},
		{live(inspect.Forbidden, getForbidden), "", "",
			`Error from server (Forbidden): pods "src" is forbidden: User "jane" cannot get resource "pods" in API group "" in the namespace "demo"`},
		{live(inspect.ServerError, apierrors.NewInternalError(errors.New("etcd down"))), "", "",
			"Error from server (InternalError): Internal error occurred: etcd down"},
		{live(inspect.ServerError, errors.New("odd")), "", "", "error: odd"},

		{file(inspect.NotFound, 0, fs.ErrNotExist, "dir/missing.yaml"), "", "", `error: the path "dir/missing.yaml" does not exist`},
		{file(inspect.Malformed, 0, inspect.ErrNoObjects, "a.yaml", "STDIN"), "", "", "error: no objects found in a.yaml, STDIN"},
		{file(inspect.Malformed, 3, errors.New("error converting YAML to JSON: yaml: line 4: did not find expected ',' or ']'"), "dir/bad.yaml"), "", "",
			"error: dir/bad.yaml: document 3: error converting YAML to JSON: yaml: line 4: did not find expected ',' or ']'"},
		{file(inspect.Malformed, 1, errors.New("object 'Kind' is missing"), "dir/nokind.yaml"), "", "",
			"error: dir/nokind.yaml: document 1: object 'Kind' is missing"},
		{file(inspect.Unreadable, 0, &fs.PathError{Op: "open", Path: "dir/x.yaml", Err: fs.ErrPermission}, "dir/x.yaml"), "", "",
			"error: open dir/x.yaml: permission denied"},
		{file(inspect.Unreadable, 0, errors.New("broken pipe"), "STDIN"), "", "", "error: reading STDIN: broken pipe"},
	}
	for _, tt := range tests {
		err := &readError{err: tt.err, server: tt.server, requestTimeout: tt.timeout}
		if got := errorLine(err); got != tt.want {
			t.Errorf("%v (server %q, timeout %q) is worded\n  %s\nwant\n  %s", tt.err, tt.server, tt.timeout, got, tt.want)
		}
		if exitCode(err) != exitUnreadable {
			t.Errorf("%v: exit %d", tt.err, exitCode(err))
		}
	}
}
