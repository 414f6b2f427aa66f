package explain_test

import (
	"context"
	"path/filepath"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	"github.com/podreach/kubectl-podreach/pkg/explain"
	"github.com/podreach/kubectl-podreach/pkg/inspect"
	"github.com/podreach/kubectl-podreach/pkg/podref"
)

// explainWorld runs one query against a world of the differential suite.
func explainWorld(t *testing.T, world, src, dst string) *api.Reachability {
	t.Helper()
	path := filepath.Join("..", "..", "test", "istio", "worlds", world)
	s, err := podref.Parse(src, "default")
	if err != nil {
		t.Fatal(err)
	}
	req := inspect.Request{Source: s}
	q := explain.Query{}
	if podref.IsTarget(dst) {
		if q.Target, err = podref.ParseTarget(dst, nil); err != nil {
			t.Fatal(err)
		}
		req.TargetHost = q.Target.Host
	} else {
		d, err := podref.Parse(dst, "default")
		if err != nil {
			t.Fatal(err)
		}
		req.Destination = &d
	}
	res, err := inspect.NewFileReader([]string{path}, nil).Read(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	q.Source = res.Source
	if q.Target == nil {
		q.Destination = res.Destination
	}
	rep, err := explain.Explain(res.Snapshot, q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findRequest(rep *api.Reachability, address string, port int32) *api.Request {
	for i := range rep.Requests {
		if rep.Requests[i].Address == address && rep.Requests[i].Port == port {
			return &rep.Requests[i]
		}
	}
	return nil
}

// A resolver moves to the next search domain on NXDOMAIN: from namespace
// kafka (which has a Service named kafka), "zk-cs.kafka" is first asked as
// zk-cs.kafka.kafka.svc.cluster.local (no such endpoint of Service kafka),
// then as zk-cs.kafka.svc.cluster.local, the ClusterIP.
func TestDNSSearchContinuesAfterNXDOMAIN(t *testing.T) {
	rep := explainWorld(t, "sts-kafka-zookeeper-peers.yaml", "kafka/kafka-0", "kafka/zk-2")
	r := findRequest(rep, "zk-cs.kafka", 2181)
	if r == nil {
		t.Fatal("no request for zk-cs.kafka:2181")
	}
	if len(r.ResolvedIPs) != 1 || r.ResolvedIPs[0] != "10.96.0.81" || r.Verdict == api.VerdictFails {
		t.Errorf("zk-cs.kafka:2181 resolved to %v (%s), verdict %s; want the ClusterIP 10.96.0.81 and a reaching verdict", r.ResolvedIPs, r.DNS, r.Verdict)
	}
}

// An ExternalName Service is a CNAME; the resolver follows it to the
// concrete Service's ClusterIP and Istio routes Host "alias" to the concrete
// Service's cluster (TestExternalNameServices).
func TestExternalNameCNAMEFollowed(t *testing.T) {
	rep := explainWorld(t, "sim-externalname-alias.yaml", "default/client", "http://alias/")
	r := rep.Requests[0]
	if len(r.ResolvedIPs) == 0 || r.ResolvedIPs[0] != "10.96.0.21" {
		t.Fatalf("alias resolved to %v (%s), want the concrete ClusterIP 10.96.0.21", r.ResolvedIPs, r.DNS)
	}
	if r.Outbound == nil || r.Outbound.Cluster != "outbound|80||concrete.default.svc.cluster.local" || r.Verdict == api.VerdictFails {
		t.Errorf("alias:80 → %+v verdict %s; want outbound|80||concrete.default.svc.cluster.local", r.Outbound, r.Verdict)
	}
}

// An app that dials a pod IP means that pod. A ServiceEntry without
// addresses owns port 82 on 0.0.0.0 and takes the connection elsewhere:
// a wrong destination, with the ServiceEntry named in the fix.
func TestURLToPodIPDivertedFails(t *testing.T) {
	rep := explainWorld(t, "sim-serviceentry-novip-allowany.yaml", "default/client", "tcp://10.244.2.31:82")
	r := rep.Requests[0]
	if r.Verdict != api.VerdictFails {
		t.Fatalf("verdict %s (reaches %s), want fails: the connection goes to istio.io, not the dialed pod", r.Verdict, r.Reaches)
	}
	if rep.Destination == nil || rep.Destination.Name != "web" {
		t.Errorf("destination %+v, want the dialed pod default/web", rep.Destination)
	}
	if len(r.Fixes) == 0 || r.Fixes[0].Object != "ServiceEntry default/se" {
		t.Errorf("fixes %+v, want the address-less ServiceEntry named first", r.Fixes)
	}
}

// A request to a node IP lands on the hostNetwork pod of that node that
// serves the port; that pod's side is judged like any other landing
// (here: no sidecar, the app answers plaintext).
func TestNodeIPLandsOnHostNetworkPod(t *testing.T) {
	for _, dst := range []string{"http://172.18.0.3:9100/", "sys/agent"} {
		rep := explainWorld(t, "b3-hostnetwork-src-dst.yaml", "app/client", dst)
		r := findRequest(rep, "172.18.0.3", 9100)
		if r == nil {
			t.Fatalf("%s: no request to 172.18.0.3:9100", dst)
		}
		if r.Inbound == nil || r.Inbound.Pod != "sys/agent" || r.Inbound.Captured || !r.Inbound.Accepted {
			t.Errorf("%s: inbound = %+v, want the hostNetwork pod sys/agent, not captured, accepted", dst, r.Inbound)
		}
		if r.Upstream == nil || r.Upstream.Pod != "sys/agent" {
			t.Errorf("%s: upstream = %+v, want sys/agent", dst, r.Upstream)
		}
		if r.Verdict != api.VerdictReaches || r.Reaches != "agent" {
			t.Errorf("%s: verdict %s reaches %q, want reaches-destination agent", dst, r.Verdict, r.Reaches)
		}
	}
}
