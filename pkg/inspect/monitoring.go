package inspect

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// The Prometheus-operator kinds --scrape reads. They are optional: absent
// (no CRD) or forbidden, they leave an Unread entry, never a failure. The
// root module does not depend on the operator's API package: the live
// reader lists them with client-go's dynamic client and decodes them, like
// the file reader, from JSON into snapshot.Monitor.
const monitoringGroup = "monitoring.coreos.com"

var (
	podMonitorsResource     = schema.GroupVersionResource{Group: monitoringGroup, Version: "v1", Resource: "podmonitors"}
	serviceMonitorsResource = schema.GroupVersionResource{Group: monitoringGroup, Version: "v1", Resource: "servicemonitors"}
)

// monitorKinds are the kind readers of --scrape, cluster-wide first (a
// forbidden cluster-wide list is retried in each namespace that matters).
func (l *liveRead) monitorKinds() []kindReader {
	return []kindReader{
		{podMonitorsResource.Resource + "." + monitoringGroup, l.listMonitors(podMonitorsResource, &l.snap.PodMonitors)},
		{serviceMonitorsResource.Resource + "." + monitoringGroup, l.listMonitors(serviceMonitorsResource, &l.snap.ServiceMonitors)},
	}
}

// listMonitors lists one monitor kind into *into. A 404 (the CRD is not
// installed) is errNotInstalled, through listIstio's one-version list.
func (l *liveRead) listMonitors(gvr schema.GroupVersionResource, into *[]snapshot.Monitor) func(context.Context, string) error {
	return func(ctx context.Context, ns string) error {
		client := l.r.opts.Dynamic
		if client == nil {
			return errNotInstalled // no client for optional kinds: none can be read
		}
		items, err := listOptional[snapshot.Monitor](ctx, l, client, gvr, ns)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, m := range items {
			*into = append(*into, *m)
		}
		return err
	}
}

// decodeMonitor decodes a PodMonitor or ServiceMonitor document of -f.
func decodeMonitor(raw []byte, list *[]snapshot.Monitor) error {
	var m snapshot.Monitor
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	defaultNamespace(&m)
	*list = append(*list, m)
	return nil
}
