package explain

import (
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// DestinationPort is one port of a destination pod as the matrix examines
// it, with the Service port names that reach it (--port accepts them, as
// it accepts the number and the containerPort name, Summary.Name).
type DestinationPort struct {
	Summary          api.PortSummary
	ServicePortNames []string
}

// DestinationPorts lists the ports the matrix examines for pod when no
// --port is given (the report's ports): the target ports of the Services
// that reach it and its declared containerPorts, in port order. Shell
// completion offers them for --port.
func DestinationPorts(s *snapshot.Snapshot, pod snapshot.PodKey) ([]DestinationPort, error) {
	m := newModel(s)
	p := m.podByKey[pod.String()]
	if p == nil {
		return nil, usageErrorf("pod %q not found", pod.String())
	}
	groups, err := m.destinationPorts(p, nil)
	if err != nil {
		return nil, err
	}
	out := make([]DestinationPort, len(groups))
	for i, g := range groups {
		out[i].Summary = g.summary
		seen := map[string]bool{}
		for _, ref := range g.refs {
			if name := ref.sp.name; name != "" && !seen[name] {
				seen[name] = true
				out[i].ServicePortNames = append(out[i].ServicePortNames, name)
			}
		}
	}
	return out, nil
}
