package explain

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// nameInfo is one entry of istiod's name table (pkg/dns/proto NameTable_NameInfo).
type nameInfo struct {
	ips       []string
	kube      bool   // Registry Kubernetes: the agent adds the short forms
	namespace string // Kubernetes entries: the Service's namespace
	shortname string // Kubernetes entries: the Service name, or "hostname.subdomain" for a per-pod name
	svc       *service
}

// buildNameTable mirrors pkg/dns/server/name_table.go BuildNameTable
// (Istio 1.31; the same at 1.27) for one sidecar: every service its scope
// imports, in push order, with the addresses istiod gives that proxy
// (GetAllAddressesForProxy: the ClusterIP, a ServiceEntry's IP addresses —
// CIDRs are dropped — or its auto-allocated VIP when the proxy consumes
// them); a headless Kubernetes Service or a resolution-NONE ServiceEntry
// without address gets its healthy endpoints of the first port, and each
// endpoint pod with spec.subdomain its own name
// <hostname>.<subdomain>.<ns>.svc.<domain>. A name the table already has
// keeps its Kubernetes entry; ServiceEntries merge their IPs.
func (m *model) buildNameTable(sc *sidecarScope, src *corev1.Pod) map[string]*nameInfo {
	table := map[string]*nameInfo{}
	v4 := !slices.ContainsFunc(podIPs(src), func(ip string) bool { return strings.Contains(ip, ":") }) || len(podIPs(src)) == 0
	for _, svc := range m.services {
		if !sc.visible[svc] {
			continue
		}
		var addrs []string
		headless := false
		all := m.proxyAddresses(svc, sc)
		if len(all) == 0 {
			headless = true
		}
		for _, a := range all {
			ip, err := netip.ParseAddr(a)
			if err != nil || (svc.isKube() && (ip.Is4() != v4 || len(addrs) > 0)) {
				// CIDRs; a Service's ClusterIP of the other family (ISTIO_DUAL_STACK
				// off); a Service has one ClusterIP per family (a hand-made
				// clusterIPs list with more gives the first, as GetAddressForProxy).
				continue
			}
			addrs = append(addrs, a)
		}
		if headless && svc.resolution == "Passthrough" && len(svc.ports) > 0 {
			for _, ep := range m.endpoints(svc, svc.ports[0], false) {
				if _, err := netip.ParseAddr(ep.ip); err != nil {
					continue
				}
				if !ep.ready && !(svc.isKube() && svc.kube.Spec.PublishNotReadyAddresses) {
					continue
				}
				if p := ep.pod; svc.isKube() && p != nil && p.Spec.Subdomain != "" {
					if _, rest, ok := strings.Cut(svc.hostname, "."); ok {
						host := p.Spec.Hostname
						if host == "" {
							host = p.Name
						}
						short := host + "." + p.Spec.Subdomain
						name := short + "." + rest
						if cur := table[name]; cur != nil && cur.svc == svc {
							cur.ips = append(cur.ips, ep.ip)
						} else {
							table[name] = &nameInfo{ips: []string{ep.ip}, kube: true, namespace: svc.namespace, shortname: short, svc: svc}
						}
					}
				}
				addrs = append(addrs, ep.ip)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		cur := table[svc.hostname]
		switch {
		case cur == nil:
			ni := &nameInfo{ips: addrs, kube: svc.isKube(), svc: svc}
			if svc.isKube() {
				ni.namespace, ni.shortname = svc.namespace, svc.name
			}
			table[svc.hostname] = ni
		case !cur.kube && svc.isKube():
			*cur = nameInfo{ips: addrs, kube: true, namespace: svc.namespace, shortname: svc.name, svc: svc}
		case !cur.kube:
			cur.ips = append(cur.ips, addrs...)
		}
	}
	return table
}

// proxyAddresses mirrors model.Service.GetAllAddressesForProxy for the
// source proxy: the service's addresses, else its auto-allocated VIPs when
// the proxy consumes them (nodeUsesAutoallocatedIPs: DNS capture, and
// auto-allocation on — istiod's controller, or the proxy's
// ISTIO_META_DNS_AUTO_ALLOCATE). Empty means 0.0.0.0 (headless).
func (m *model) proxyAddresses(svc *service, sc *sidecarScope) []string {
	if len(svc.addresses) == 0 && sc.autoVIPs {
		return svc.autoAddresses
	}
	return svc.addresses
}

// dnsLookup is the agent's lookup table (pkg/dns/client/dns.go
// BuildAlternateHosts, buildDNSAnswers): every name it answers, with a
// trailing dot, to the table host whose A records it returns.
type dnsLookup struct {
	hosts map[string]*nameInfo // the name → its entry
	cname map[string]string    // name + first search domain → the name (a CNAME)
}

// newDNSLookup expands the table as the agent of a proxy in namespace ns
// does: a Kubernetes entry also answers as name.ns., name.ns.svc. and, in
// its own namespace, name.; every name also answers with the first search
// domain of resolv.conf appended, by a CNAME back to it.
func (m *model) newDNSLookup(table map[string]*nameInfo, ns string) *dnsLookup {
	l := &dnsLookup{hosts: map[string]*nameInfo{}, cname: map[string]string{}}
	domain := "svc." + m.clusterDomain
	search0 := ns + ".svc." + m.clusterDomain + "."
	hosts := make([]string, 0, len(table))
	for h := range table {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts) // the agent ranges over a map: collisions are undefined there, stable here
	for _, h := range hosts {
		ni := table[h]
		if !slices.ContainsFunc(ni.ips, func(ip string) bool { return !strings.Contains(ip, ":") }) {
			continue // A queries only: no IPv4 answer
		}
		alt := []string{strings.TrimSuffix(h, ".") + "."}
		if ni.kube && strings.HasSuffix(h, domain) {
			alt = append(alt, ni.shortname+"."+ni.namespace+".", ni.shortname+"."+ni.namespace+".svc.")
			if ni.namespace == ns {
				alt = append(alt, ni.shortname+".")
			}
		}
		for _, a := range alt {
			a = strings.ToLower(a)
			l.hosts[a] = ni
			if !strings.HasSuffix(a, search0) {
				if exp := a + search0; !slices.Contains(alt, exp) {
					l.cname[exp] = a
				}
			}
		}
	}
	return l
}

// lookup mirrors LookupTable.lookupHost for an A query of fqdn (with a
// trailing dot): the exact name, else the closest "*." wildcard, following
// the search-domain CNAME. found is false when the agent forwards the query
// to cluster DNS.
func (l *dnsLookup) lookup(fqdn string) (ni *nameInfo, found bool) {
	h := strings.ToLower(fqdn)
	_, exact := l.hosts[h]
	_, cn := l.cname[h]
	if !exact && !cn {
		labels := strings.Split(strings.TrimSuffix(h, "."), ".")
		found := false
		for i := range labels {
			w := "*." + strings.Join(labels[i+1:], ".") + "."
			_, e := l.hosts[w]
			_, c := l.cname[w]
			if e || c {
				h, found = w, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	if target, ok := l.cname[h]; ok {
		h = target
	}
	return l.hosts[h], true
}

// ipv4 lists the entry's IPv4 answers, in IP order (the agent shuffles them).
func (ni *nameInfo) ipv4() []string {
	var out []string
	for _, ip := range ni.ips {
		if !strings.Contains(ip, ":") && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if ipLess(a, b) {
			return -1
		}
		if ipLess(b, a) {
			return 1
		}
		return 0
	})
	return out
}

// describe says for people which entry answered.
func (ni *nameInfo) describe(name string) string {
	what := ni.svc.kindName()
	if ni.kube && ni.shortname != ni.svc.name {
		what = "a pod of headless " + what
	}
	return fmt.Sprintf("answered by the sidecar's DNS proxy from istiod's name table (%s): %s", what, strings.Join(ni.ipv4(), ", "))
}
