package render

import (
	"bytes"
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
)

// FormatDot is Graphviz: `-o dot | dot -Tsvg > path.svg`.
const FormatDot = "dot"

// Dot writes the report as a Graphviz digraph of the data path, left to
// right: the SRC app → SRC proxy listener → route → cluster → DST proxy
// inbound filter chain → DST app. Each request is one path; paths share the
// nodes they have in common (the same listener, route, cluster or pod), so
// the matrix form shows at a glance which addresses take the service cluster
// and which fall through to PassthroughCluster. A failing request ends in a
// red edge labelled with the symptom, at the step where it fails.
//
// Graphviz lays out ~10–30 paths legibly; restrict a large matrix with
// --port, or trace one request with the URL form.
func Dot(w io.Writer, r *api.Reachability) error {
	g := newDotGraph()
	g.cluster("src", "SRC "+workloadName(r.Source)+" — "+orDash(string(r.Source.Dataplane)))
	src := g.node("src", "app:"+workloadName(r.Source), fmt.Sprintf("%s\napp %s", workloadName(r.Source), orDash(r.Source.IP)), "box", "")
	var paths [][]*dotEdge
	for _, q := range r.Requests {
		g.current = nil
		g.path(r, src, q)
		for _, e := range g.current {
			e.addrs = appendUnique(e.addrs, dialLabel(q))
		}
		paths = append(paths, g.current)
	}
	// Name the addresses where paths part: on the first edge of a path, and
	// on every edge that carries a different set of requests than the edge
	// before it on the same path.
	for _, p := range paths {
		var prev []string
		for i, e := range p {
			if i == 0 || !slices.Equal(e.addrs, prev) {
				e.shown = true
			}
			prev = e.addrs
			if len(r.Requests) > 1 && len(e.addrs) == len(r.Requests) {
				e.all = len(e.addrs)
			}
		}
	}
	var out bytes.Buffer
	out.WriteString("digraph podreach {\n")
	out.WriteString("  rankdir=LR;\n")
	out.WriteString("  labelloc=t;\n")
	fmt.Fprintf(&out, "  label=%s;\n", dotQuote(graphTitle(r)))
	out.WriteString("  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n")
	out.WriteString("  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for _, c := range g.clusterOrder {
		cl := g.clusters[c]
		fmt.Fprintf(&out, "  subgraph %s {\n", dotQuote("cluster_"+c))
		fmt.Fprintf(&out, "    label=%s;\n", dotQuote(cl.label))
		out.WriteString("    style=dashed;\n")
		for _, id := range cl.nodes {
			out.WriteString("    " + g.nodes[id].String() + "\n")
		}
		out.WriteString("  }\n")
	}
	for _, id := range g.nodeOrder {
		if n := g.nodes[id]; n.cluster == "" {
			out.WriteString("  " + n.String() + "\n")
		}
	}
	for _, e := range g.edges {
		out.WriteString("  " + e.String() + "\n")
	}
	out.WriteString("}\n")
	_, err := w.Write(out.Bytes())
	return err
}

type dotNode struct {
	id, label, shape, color, cluster string
}

func (n *dotNode) String() string {
	attrs := []string{"label=" + dotQuote(n.label)}
	if n.shape != "" {
		attrs = append(attrs, "shape="+n.shape)
	}
	if n.color != "" {
		attrs = append(attrs, "color="+n.color, "fontcolor="+n.color)
	}
	return fmt.Sprintf("%s [%s];", dotQuote(n.id), strings.Join(attrs, ", "))
}

type dotEdge struct {
	from, to string
	labels   []string
	failed   bool
	// addrs are the requests (dialed address:port) taking this edge, in
	// order; shown is set where a path diverges, so the label says which
	// addresses go which way.
	addrs []string
	shown bool
	all   int // set when the edge carries all requests (of all > 1)
}

func (e *dotEdge) String() string {
	var attrs []string
	labels := e.labels
	switch {
	case e.shown && e.all > 0:
		labels = append([]string{fmt.Sprintf("all %d addresses", e.all)}, labels...)
	case e.shown:
		labels = append(append([]string{}, e.addrs...), labels...)
	}
	if len(labels) > 0 {
		attrs = append(attrs, "label="+dotQuote(strings.Join(labels, "\n")))
	}
	if e.failed {
		attrs = append(attrs, "color=red", "fontcolor=red", "penwidth=2")
	}
	s := dotQuote(e.from) + " -> " + dotQuote(e.to)
	if len(attrs) > 0 {
		s += " [" + strings.Join(attrs, ", ") + "]"
	}
	return s + ";"
}

type dotCluster struct {
	label string
	nodes []string
}

type dotGraph struct {
	current      []*dotEdge // the edges of the request being added
	nodes        map[string]*dotNode
	nodeOrder    []string
	clusters     map[string]*dotCluster
	clusterOrder []string
	edges        []*dotEdge
	edgeIndex    map[string]*dotEdge
}

func newDotGraph() *dotGraph {
	return &dotGraph{nodes: map[string]*dotNode{}, clusters: map[string]*dotCluster{}, edgeIndex: map[string]*dotEdge{}}
}

// node returns the id of the node with this id, creating it in cluster (a
// subgraph key; "" for none) on first use.
func (g *dotGraph) node(cluster, id, label, shape, color string) string {
	if n, ok := g.nodes[id]; ok {
		if color != "" {
			n.color = color
		}
		return id
	}
	g.nodes[id] = &dotNode{id: id, label: label, shape: shape, color: color, cluster: cluster}
	g.nodeOrder = append(g.nodeOrder, id)
	if cluster != "" {
		c := g.clusters[cluster]
		if c == nil {
			c = &dotCluster{}
			g.clusters[cluster] = c
			g.clusterOrder = append(g.clusterOrder, cluster)
		}
		c.nodes = append(c.nodes, id)
	}
	return id
}

func (g *dotGraph) cluster(key, label string) {
	if c := g.clusters[key]; c != nil {
		c.label = label
		return
	}
	g.clusters[key] = &dotCluster{label: label}
	g.clusterOrder = append(g.clusterOrder, key)
}

// edge adds label to the edge from → to (one edge per pair and colour).
func (g *dotGraph) edge(from, to, label string, failed bool) {
	key := from + "\x00" + to + "\x00" + strconv.FormatBool(failed)
	e := g.edgeIndex[key]
	if e == nil {
		e = &dotEdge{from: from, to: to, failed: failed}
		g.edgeIndex[key] = e
		g.edges = append(g.edges, e)
	}
	g.current = append(g.current, e)
	if label == "" {
		return
	}
	label = wrapLabel(label, 60)
	for _, l := range e.labels {
		if l == label {
			return
		}
	}
	e.labels = append(e.labels, label)
}

// path adds one request: the hops it takes, and where it stops if it fails.
func (g *dotGraph) path(r *api.Reachability, src string, q api.Request) {
	fails := q.Verdict == api.VerdictFails
	symptom := "FAILS"
	if q.Symptom != "" {
		symptom = "FAILS: " + q.Symptom
	}

	// DNS: nothing to dial.
	if rs := step(q, api.StageResolve); rs != nil && rs.Result == api.StepFail {
		detail := rs.Detail
		if rs.Reason != nil {
			detail = rs.Reason.Detail
		}
		end := g.node("", "dns-"+q.Address, "DNS\n"+orDash(detail), "plaintext", "red")
		g.edge(src, end, symptom, true)
		return
	}

	prev, label := src, ""
	hop := func(cluster, id, text string) {
		n := g.node(cluster, id, text, "", "")
		g.edge(prev, n, label, false)
		prev, label = n, ""
	}

	// The SRC side's hops, as the request's steps recorded them. A route
	// hop belongs to its listener (two listeners' tcp_proxy are two hops).
	listener := ""
	for _, s := range q.Steps {
		switch s.Stage {
		case api.StageListener:
			listener = s.Name
			hop("src", "listener:"+s.Name, "listener "+s.Name)
		case api.StageRoute:
			if s.Reason != nil && s.Reason.Status != 0 {
				hop("src", "route:"+listener+":"+s.Name, "route "+s.Name)
				end := g.node("src", fmt.Sprintf("direct:%d", s.Reason.Status), fmt.Sprintf("direct response %d", s.Reason.Status), "", "red")
				g.edge(prev, end, symptomOr(fails, symptom), fails)
				return
			}
			hop("src", "route:"+listener+":"+s.Name, "route "+s.Name)
		case api.StageCluster:
			c := "cluster " + s.Name
			if o := q.Outbound; o != nil && len(o.WeightedClusters) > 0 {
				parts := make([]string, 0, len(o.WeightedClusters))
				for _, wc := range o.WeightedClusters {
					parts = append(parts, fmt.Sprintf("%s (%d)", wc.Cluster, wc.Weight))
				}
				c = "clusters\n" + strings.Join(parts, "\n")
			} else if o != nil && o.ClusterType != "" {
				c += "\n" + string(o.ClusterType)
			}
			hop("src", "cluster:"+s.Name, c)
		case api.StageKubeProxy:
			if step(q, api.StageListener) == nil {
				hop("", "kube-proxy:"+s.Detail, "kube-proxy\n"+s.Detail)
			}
		case api.StageZtunnel:
			hop("", "ztunnel:"+s.Proxy+":"+s.Name, s.Proxy+"\n"+s.Name)
		case api.StageWaypoint:
			hop("", "waypoint:"+s.Proxy+":"+s.Name, "waypoint "+s.Proxy+"\n"+s.Name)
		}
	}

	// Leaving the SRC pod: what is on the wire, and to which endpoint.
	wire := wireLabel(q)
	in := q.Inbound
	if in == nil {
		target := "dropped (no upstream)"
		id := "end:" + q.Address
		if q.Upstream != nil {
			target = net.JoinHostPort(q.Upstream.IP, strconv.Itoa(int(q.Upstream.Port)))
			if q.Upstream.Pod != "" {
				target = q.Upstream.Pod + "\n" + target
			}
			id = "upstream:" + target
		}
		color := ""
		if fails {
			color = "red"
		}
		end := g.node("", id, target, "box", color)
		g.edge(prev, end, joinLabels(wire, symptomOr(fails, symptom)), fails)
		return
	}

	pod := in.Pod
	if pod == "" && q.Upstream != nil {
		pod = q.Upstream.Pod
	}
	dstKey := "dst " + pod
	mode := ""
	if in.Mode != "" {
		mode = " (" + in.Mode + ")"
	}
	g.cluster(dstKey, "DST "+orDash(pod)+dstDataplane(r, pod, in))
	if in.Captured {
		chain := "inbound " + orDash(in.FilterChain) + mode
		if !in.Accepted {
			chain = "inbound" + mode
		}
		color := ""
		if !in.Accepted {
			color = "red"
		}
		n := g.node(dstKey, "inbound:"+pod+":"+strconv.Itoa(int(in.Port))+":"+in.FilterChain+":"+strconv.FormatBool(in.Accepted), chain, "", color)
		if !in.Accepted {
			why := symptom
			if in.Error != "" {
				why += "\n(" + in.Error + ")"
			}
			g.edge(prev, n, joinLabels(wire, why), true)
			return
		}
		g.edge(prev, n, wire, false)
		prev, wire = n, ""
		// The RBAC filters, when they deny or hand the request to a provider.
		if a := step(q, api.StageAuthz); a != nil && a.Reason != nil && (a.Result == api.StepFail || in.Authorization.Decision == api.AuthzCustom) {
			label := "authorization " + a.Name
			if p := in.Authorization.Policy; p != "" {
				label += "\n" + p
			}
			color := ""
			if a.Result == api.StepFail {
				color = "red"
			}
			n := g.node(dstKey, "authz:"+pod+":"+strconv.Itoa(int(in.Port))+":"+a.Name+":"+in.Authorization.Policy, label, "", color)
			if a.Result == api.StepFail {
				g.edge(prev, n, symptom, true)
				return
			}
			g.edge(prev, n, "", false)
			prev = n
		}
	}
	app := g.node(dstKey, "app:"+pod+":"+strconv.Itoa(int(in.Port)), fmt.Sprintf("%s\napp :%d", orDash(pod), in.Port), "box", "")
	reach := ""
	if q.Verdict == api.VerdictLoadBalanced {
		reach = q.Reaches
	}
	g.edge(prev, app, joinLabels(wire, reach, symptomOr(fails, symptom)), fails)
}

func dialLabel(q api.Request) string { return addressWithHost(q, " ") }

func wireLabel(q api.Request) string {
	tls := ""
	switch q.TLS {
	case api.TLSMutual:
		tls = "mTLS"
	case api.TLSSimple:
		tls = "TLS"
	case api.TLSPlaintext:
		tls = "plaintext"
	}
	if q.Upstream != nil && q.Upstream.IP != "" {
		to := "→ " + net.JoinHostPort(q.Upstream.IP, strconv.Itoa(int(q.Upstream.Port)))
		if tls == "" {
			return to
		}
		return tls + " " + to
	}
	return tls
}

func dstDataplane(r *api.Reachability, pod string, in *api.Inbound) string {
	if d := r.Destination; d != nil && d.Namespace+"/"+d.Name == pod && d.Dataplane != "" {
		return " — " + string(d.Dataplane)
	}
	if !in.Captured {
		return " — no sidecar"
	}
	return ""
}

func symptomOr(fails bool, symptom string) string {
	if fails {
		return symptom
	}
	return ""
}

// wrapLabel breaks each line of s at width runes, between words.
func wrapLabel(s string, width int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		cur := ""
		for _, word := range strings.Fields(line) {
			if cur != "" && runeLen(cur)+1+runeLen(word) > width {
				out = append(out, cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += word
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func joinLabels(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n")
}

func graphTitle(r *api.Reachability) string {
	t := "kubectl podreach " + workloadName(r.Source)
	switch {
	case r.Target != nil:
		t += " " + r.Target.URL
		if r.Target.Host != "" {
			t += " (Host: " + r.Target.Host + ")"
		}
	case r.Destination != nil:
		t += " " + workloadName(*r.Destination)
	}
	if s := summaryLine(r); s != "" {
		t += " — " + s
	}
	return t
}

func workloadName(w api.Workload) string { return w.Namespace + "/" + w.Name }

// dotQuote makes s a DOT double-quoted string: quotes and backslashes
// escaped, newlines as \n (centred lines), control characters dropped.
func dotQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r < 0x20 || r == 0x7f:
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
