// Package explain is the model of Istio's sidecar data path: pure functions
// from a snapshot.Snapshot and a Query to a Report. No clients, no I/O.
package explain

import (
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Explain answers the query against the snapshot.
func Explain(s *snapshot.Snapshot, q Query) (*api.Reachability, error) {
	return newModel(s).explain(q)
}
