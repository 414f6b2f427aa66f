package explain

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// resolveStage asks cluster DNS for the dialed name, as the SRC pod's
// resolver would, and picks the IP the connection goes to (DST's own IP
// when DNS returns several and one is DST).
func (t *tracer) resolveStage(f *flow) {
	c, r := f.c, f.r
	ans := t.m.resolveWith(c.address, t.src.Namespace, t.dnsLookup())
	f.ans = ans
	dnsProxy := "dns"
	if !isIPLiteral(c.address) {
		r.DNSSource = api.DNSSourceCluster
		if ans.proxy {
			r.DNSSource, dnsProxy = api.DNSSourceIstioProxy, t.srcKey
		}
	}
	r.Form = ans.form
	if ans.svc != nil {
		r.Service = ans.svc.key()
	}
	r.DNS = ans.note
	if ans.found {
		r.ResolvedIPs = append(r.ResolvedIPs, ans.ips...)
	}
	if isIPLiteral(c.address) {
		r.Form = t.ipForm(c.address)
	}
	if !ans.found || (len(ans.ips) == 0 && ans.form != api.FormExternal) {
		r.TLS, r.Balancing = api.TLSNone, api.BalancingNone
		r.Protocol = t.portProtocol(ans.svc, c.port)
		f.fail(api.StageResolve, dnsProxy, c.address, api.Reason{Code: api.ReasonDNSNXDomain, Rule: api.RuleClusterDNS, Host: c.address, Detail: ans.note}, "")
		return
	}
	dialIP := ""
	if len(ans.ips) > 0 {
		dialIP = ans.ips[0]
		if t.dst != nil {
			for _, ip := range ans.ips {
				if slices.Contains(podIPs(t.dst), ip) {
					dialIP = ip
				}
			}
		}
	}
	f.dialIP = dialIP
	r.DialedIP = dialIP
	f.step(api.Step{Stage: api.StageResolve, Proxy: dnsProxy, Name: strings.Join(ans.ips, ","), Detail: ans.note})
}

func isIPLiteral(s string) bool {
	return strings.Count(s, ".") == 3 && strings.Trim(s, "0123456789.") == "" || strings.Contains(s, ":")
}

// ipForm tells a ClusterIP from a pod IP.
func (t *tracer) ipForm(ip string) api.AddressForm {
	if t.m.serviceAddrs[ip] {
		return api.FormClusterIP
	}
	if t.m.podByIP[ip] != nil {
		return api.FormPodIP
	}
	return api.FormIP
}

// dnsAnswer is what cluster DNS returns for a name asked from a pod.
type dnsAnswer struct {
	ips   []string
	fqdn  string          // the name that answered (search path applied)
	svc   *service        // the Service the name belongs to, if any
	form  api.AddressForm // see api.Request.Form
	note  string
	found bool
	proxy bool // the SRC sidecar's DNS proxy answered, from istiod's name table
}

// dnsLookup is SRC's DNS proxy, nil when its queries go to cluster DNS
// (no sidecar, or ISTIO_META_DNS_CAPTURE off). Built once per tracer.
func (t *tracer) dnsLookup() *dnsLookup {
	if t.dns == nil && t.dataplane == api.DataplaneSidecar && t.sc.proxy.dnsCapture {
		t.dns = t.m.newDNSLookup(t.m.buildNameTable(t.sc, t.src), t.src.Namespace)
	}
	return t.dns
}

// resolve mirrors the Kubernetes DNS specification (schema 1.1.0) as
// CoreDNS serves it, with the pod's resolv.conf (search
// <ns>.svc.<zone> svc.<zone> <zone>, ndots:5; a trailing dot makes the name
// absolute):
//   - <svc>.<ns>.svc.<zone>: the ClusterIP, or for a headless Service one
//     record per ready endpoint (NXDOMAIN when none);
//   - <hostname>.<svc>.<ns>.svc.<zone>: the endpoint with that hostname
//     (ready only, unless publishNotReadyAddresses);
//   - ExternalName: a CNAME to spec.externalName, which the resolver follows
//     (CoreDNS adds the target's A records when it is in the cluster zone).
//
// An NXDOMAIN moves the resolver on to the next search-list candidate
// (glibc/musl res_search): "zk-cs.kafka" from namespace kafka is first
// asked as zk-cs.kafka.kafka.svc.<zone> — no such endpoint of Service
// kafka — and then as zk-cs.kafka.svc.<zone>.
//
// With the sidecar's DNS proxy (ISTIO_META_DNS_CAPTURE), each query of the
// search list reaches the agent first: a name its lookup table holds is
// answered there (dnsproxy.go), any other is forwarded to cluster DNS as is
// (pkg/dns/client/dns.go ServeDNS).
func (m *model) resolve(name, fromNS string) dnsAnswer {
	return m.resolveDepth(name, fromNS, 0, nil)
}

// resolveWith resolves through SRC's DNS proxy l (nil: cluster DNS only).
func (m *model) resolveWith(name, fromNS string, l *dnsLookup) dnsAnswer {
	return m.resolveDepth(name, fromNS, 0, l)
}

// maxCNAMEChain bounds ExternalName → ExternalName chains (CoreDNS stops
// following after a few hops too).
const maxCNAMEChain = 8

func (m *model) resolveDepth(name, fromNS string, depth int, l *dnsLookup) dnsAnswer {
	if ip := net.ParseIP(name); ip != nil {
		return dnsAnswer{ips: []string{ip.String()}, found: true, fqdn: name}
	}
	name = strings.ToLower(name)
	absolute := strings.HasSuffix(name, ".")
	base := strings.TrimSuffix(name, ".")
	var candidates []string
	if absolute {
		candidates = []string{base}
	} else {
		search := []string{fromNS + ".svc." + m.clusterDomain, "svc." + m.clusterDomain, m.clusterDomain}
		// ndots:5 — fewer than 5 dots: the search list first, then the name as is.
		if strings.Count(base, ".") < 5 {
			for _, s := range search {
				candidates = append(candidates, base+"."+s)
			}
			candidates = append(candidates, base)
		} else {
			candidates = append([]string{base}, func() []string {
				var c []string
				for _, s := range search {
					c = append(c, base+"."+s)
				}
				return c
			}()...)
		}
	}
	var nxdomain *dnsAnswer // the first, most specific NXDOMAIN, if nothing answers
	for _, c := range candidates {
		if l != nil {
			if ni, found := l.lookup(c + "."); found {
				if ips := ni.ipv4(); len(ips) > 0 {
					a := dnsAnswer{ips: ips, fqdn: c, svc: ni.svc, found: true, proxy: true, note: ni.describe(c)}
					a.form = addressForm(name, a, fromNS)
					if ni.svc.se != nil {
						a.form = api.FormExternal
					}
					return a
				}
				continue // NOERROR without an A record: the resolver tries the next name
			}
		}
		a, ok := m.lookupClusterName(c, depth)
		if !ok {
			continue
		}
		if !a.found {
			if nxdomain == nil {
				nxdomain = &a
			}
			continue
		}
		a.form = addressForm(name, a, fromNS)
		return a
	}
	// Not a cluster name: upstream DNS answers it, which we cannot see.
	// A ServiceEntry with addresses for the host tells us what Istio expects.
	for _, svc := range m.byHost[base] {
		var ips []string // its IP addresses: a CIDR is no DNS answer
		for _, a := range svc.addresses {
			if net.ParseIP(a) != nil {
				ips = append(ips, a)
			}
		}
		if svc.se != nil && len(ips) > 0 {
			return dnsAnswer{ips: ips, fqdn: base, svc: svc, found: true, form: "external",
				note: fmt.Sprintf("%s is not a cluster name; ServiceEntry %s lists its addresses", base, svc.key())}
		}
	}
	if nxdomain != nil {
		return *nxdomain
	}
	if strings.HasSuffix(base, "."+m.clusterDomain) || !strings.Contains(base, ".") {
		return dnsAnswer{fqdn: base, note: fmt.Sprintf("NXDOMAIN: no record for %q from namespace %s (search path %s.svc.%s svc.%s %s)", name, fromNS, fromNS, m.clusterDomain, m.clusterDomain, m.clusterDomain)}
	}
	return dnsAnswer{fqdn: base, form: "external", note: fmt.Sprintf("%s is not a cluster name: resolved by upstream DNS (not visible here)", base)}
}

// lookupClusterName answers one fully qualified name from the cluster zone.
// ok is false when the name is not the zone's to answer; found is false on
// NXDOMAIN.
func (m *model) lookupClusterName(fqdn string, depth int) (dnsAnswer, bool) {
	suffix := ".svc." + m.clusterDomain
	if strings.HasSuffix(fqdn, ".pod."+m.clusterDomain) {
		// a-b-c-d.<ns>.pod.<zone> (CoreDNS "pods insecure", the kubeadm default).
		first, _, _ := strings.Cut(fqdn, ".")
		ip := strings.ReplaceAll(first, "-", ".")
		if net.ParseIP(ip) != nil {
			return dnsAnswer{ips: []string{ip}, fqdn: fqdn, found: true, note: "pod A record (CoreDNS pods insecure)"}, true
		}
		return dnsAnswer{}, false
	}
	if !strings.HasSuffix(fqdn, suffix) {
		return dnsAnswer{}, false
	}
	labels := strings.Split(strings.TrimSuffix(fqdn, suffix), ".")
	switch len(labels) {
	case 2: // svc.ns
		svc := m.kubeService(labels[1], labels[0])
		if svc == nil {
			return dnsAnswer{}, false
		}
		a := dnsAnswer{fqdn: fqdn, svc: svc, found: true}
		switch {
		case svc.resolution == "Alias":
			target := strings.TrimSuffix(strings.ToLower(svc.kube.Spec.ExternalName), ".")
			a.note = "CNAME " + target
			if depth >= maxCNAMEChain {
				return dnsAnswer{fqdn: fqdn, svc: svc, note: "CNAME chain too long at " + target}, true
			}
			t := m.resolveDepth(target+".", "", depth+1, nil)
			a.ips = t.ips
			if len(t.ips) > 0 {
				a.note += " → " + strings.Join(t.ips, ", ")
			} else if t.note != "" {
				a.note += " (" + t.note + ")"
			}
		case svc.isHeadless():
			a.ips = m.headlessRecords(svc)
			if len(a.ips) == 0 {
				return dnsAnswer{fqdn: fqdn, svc: svc, note: fmt.Sprintf("NXDOMAIN: headless Service %s has no ready endpoints", svc.key())}, true
			}
		default:
			a.ips = svc.addresses
		}
		return a, true
	case 3: // host.svc.ns
		svc := m.kubeService(labels[2], labels[1])
		if svc == nil {
			return dnsAnswer{}, false
		}
		for _, ep := range m.allEndpointsOf(svc) {
			if !ep.ready && !svc.kube.Spec.PublishNotReadyAddresses {
				continue
			}
			// CoreDNS names endpoints by hostname, else by dashed IP.
			if ep.hostname == labels[0] || (ep.hostname == "" && strings.ReplaceAll(ep.ip, ".", "-") == labels[0]) {
				return dnsAnswer{ips: []string{ep.ip}, fqdn: fqdn, svc: svc, found: true}, true
			}
		}
		return dnsAnswer{fqdn: fqdn, svc: svc, note: fmt.Sprintf("NXDOMAIN: no ready endpoint of Service %s has hostname %q", svc.key(), labels[0])}, true
	}
	return dnsAnswer{}, false
}

func (m *model) kubeService(ns, name string) *service {
	return m.kubeByName[ns+"/"+name]
}

// allEndpointsOf lists every address of a Kubernetes service's slices once.
func (m *model) allEndpointsOf(svc *service) []endpoint {
	seen := map[string]bool{}
	var out []endpoint
	for _, sp := range svc.ports {
		for _, ep := range m.endpoints(svc, sp, false) {
			if !seen[ep.ip] {
				seen[ep.ip] = true
				out = append(out, ep)
			}
		}
	}
	if len(svc.ports) == 0 {
		for _, es := range m.slices[svc.key()] {
			for _, e := range es.Endpoints {
				for _, a := range e.Addresses {
					if !seen[a] {
						seen[a] = true
						ep := endpoint{ip: a, ready: e.Conditions.Ready == nil || *e.Conditions.Ready}
						if e.Hostname != nil {
							ep.hostname = *e.Hostname
						}
						out = append(out, ep)
					}
				}
			}
		}
	}
	return out
}

func (m *model) headlessRecords(svc *service) []string {
	var out []string
	for _, ep := range m.allEndpointsOf(svc) {
		if ep.ready || svc.kube.Spec.PublishNotReadyAddresses {
			out = append(out, ep.ip)
		}
	}
	return out
}

// addressForm classifies what the user typed.
func addressForm(typed string, a dnsAnswer, fromNS string) api.AddressForm {
	if a.svc == nil {
		return ""
	}
	base := strings.TrimSuffix(typed, ".")
	svcFQDN := a.svc.hostname
	switch {
	case strings.HasSuffix(typed, ".") && base == svcFQDN:
		return "service-fqdn-dot"
	case base == svcFQDN:
		return "service-fqdn"
	case base == a.svc.name+"."+a.svc.namespace+".svc":
		return "service-svc"
	case base == a.svc.name+"."+a.svc.namespace:
		return "service-namespaced"
	case base == a.svc.name:
		return "service-short"
	}
	return "pod-hostname"
}

// podHostnameRecords lists the per-pod DNS names cluster DNS serves for a
// pod: hostname.subdomain records exist only when a headless Service named
// like pod.spec.subdomain has a ready endpoint for the pod with a hostname
// (EndpointSlice controller ShouldSetHostname; DNS spec §2.4).
func (m *model) podHostnameRecords(pod *corev1.Pod) []struct {
	svc      *service
	hostname string
} {
	var out []struct {
		svc      *service
		hostname string
	}
	ips := map[string]bool{}
	for _, ip := range podIPs(pod) {
		ips[ip] = true
	}
	for _, svc := range m.services {
		if !svc.isKube() || svc.namespace != pod.Namespace {
			continue
		}
		for _, ep := range m.allEndpointsOf(svc) {
			if ips[ep.ip] && ep.hostname != "" && (ep.ready || svc.kube.Spec.PublishNotReadyAddresses) {
				out = append(out, struct {
					svc      *service
					hostname string
				}{svc, ep.hostname})
				break
			}
		}
	}
	return out
}
