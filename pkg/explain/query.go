package explain

import (
	"fmt"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Query is what the user asked, already parsed and validated by the command
// (pkg/podref): explain checks only what the snapshot alone can tell.
type Query struct {
	Source snapshot.PodKey
	// Destination is set for the matrix form (DST is a pod).
	Destination *snapshot.PodKey
	// Target is set for the URL form (DST is a URL or host:port).
	Target *podref.Target
	// Ports restricts the matrix to these destination ports (numbers or names).
	Ports []podref.Port
	// Traffic overrides what the app sends: "" (auto, by the port's
	// protocol), api.TrafficHTTP or api.TrafficTCP.
	Traffic api.Traffic
	// Method is the HTTP method the app sends ("" = GET).
	Method string
}

// QueryError means the query does not fit the snapshot: a pod that is not
// in it, a port name the destination pod does not have, a pod without
// ports. The command exits with status 2, as for any other argument error.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

func usageErrorf(format string, a ...any) error {
	return &QueryError{Msg: fmt.Sprintf(format, a...)}
}

// portArgs are the --port values as destinationPorts takes them.
func portArgs(ports []podref.Port) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = p.String()
	}
	return out
}
