package explain

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// model indexes a Snapshot for the rule functions.
type model struct {
	s             *snapshot.Snapshot
	mesh          snapshot.MeshConfig
	clusterDomain string
	// istioMinor is the control-plane minor version assumed (e.g. 31 for 1.31).
	istioMinor   int
	istioVersion string
	// proxyMinor and proxyVersion are what the proxies' images say: the
	// assumption when the source's istiod was not read.
	proxyMinor   int
	proxyVersion string
	// controlPlanes are the istiod pods read; cp is SRC's (nil when not read).
	controlPlanes []*controlPlane
	cp            *controlPlane
	// meshRejected says why the control plane that reads the mesh
	// ConfigMap cannot parse it ("" when it can): the model then runs on
	// Istio's defaults (meshVersionCheck).
	meshRejected string

	namespaces map[string]*corev1.Namespace
	pods       []*corev1.Pod
	podByIP    map[string]*corev1.Pod
	podByKey   map[string]*corev1.Pod
	// authzSets caches authzPolicies by pod key.
	authzSets  sync.Map
	services   []*service // Kubernetes Services and ServiceEntries, Istio's order
	byHost     map[string][]*service
	byPort     map[int32][]*service                    // services declaring a port, Istio's order
	kubeByName map[string]*service                     // "ns/name" of Kubernetes Services
	aliases    map[string][]string                     // hostname -> ExternalName Services pointing at it
	slices     map[string][]*discoveryv1.EndpointSlice // "ns/svc" -> slices
	warnings   []string

	// proofs caches what proving fixes builds (prove.go).
	proofs variants
	stats  ProofStats
	// serviceAddrs are the addresses of every service, clusterIPs those of
	// the Kubernetes Services (asked per request).
	serviceAddrs, clusterIPs map[string]bool
	// byPodNamespace caches servicesFor.
	byPodNamespace map[string][]*service
	// waypoints are the Gateways istiod takes as waypoints, by NS/NAME.
	waypoints map[string]*waypoint
}

// servicesFor lists, in m.services order, the services that can have a pod
// of namespace ns as an endpoint: those of ns, and the Kubernetes Services
// without a selector of any namespace (their EndpointSlices may name any
// pod). A Service with a selector only selects pods of its own namespace,
// and a ServiceEntry's workloads are of its own namespace too.
func (m *model) servicesFor(ns string) []*service {
	if out, ok := m.byPodNamespace[ns]; ok {
		return out
	}
	var out []*service
	for _, svc := range m.services {
		if svc.namespace == ns || svc.isKube() && len(svc.kube.Spec.Selector) == 0 {
			out = append(out, svc)
		}
	}
	out = slices.Clip(out)
	m.byPodNamespace[ns] = out
	return out
}

// service is Istio's model.Service for one Kubernetes Service or one host of
// a ServiceEntry (pilot/pkg/serviceregistry/kube/conversion.go ConvertService,
// serviceentry/conversion.go convertServices).
type service struct {
	hostname  string // FQDN
	namespace string
	name      string // Service or ServiceEntry name
	kube      *corev1.Service
	se        *networkingv1.ServiceEntry

	addresses []string // ClusterIPs / SE addresses; empty when 0.0.0.0
	// autoAddresses are the VIPs istiod's controller allocated to a
	// ServiceEntry host without addresses (status.addresses); only proxies
	// with DNS capture use them (proxyAddresses).
	autoAddresses []string
	// resolution: "ClientSideLB" (EDS), "Passthrough" (headless or SE NONE), "DNS", "Alias".
	resolution   string
	ports        []*servicePort
	exportTo     []string
	meshExternal bool
	created      time.Time
}

type servicePort struct {
	name       string
	port       int32
	protocol   api.Protocol // Istio protocol
	targetPort intstr.IntOrString
	index      int
}

// endpoint is one address behind a service port.
type endpoint struct {
	ip       string
	port     int32 // endpoint (target) port
	pod      *corev1.Pod
	hostname string
	ready    bool
	labels   map[string]string
}

func (s *service) isKube() bool     { return s.kube != nil }
func (s *service) isHeadless() bool { return s.isKube() && s.resolution == "Passthrough" }
func (s *service) key() string      { return s.namespace + "/" + s.name }
func (s *service) kindName() string {
	if s.isKube() {
		return "Service " + s.key()
	}
	return "ServiceEntry " + s.key()
}

func (s *service) portByNumber(p int32) *servicePort {
	for _, sp := range s.ports {
		if sp.port == p {
			return sp
		}
	}
	return nil
}

func newModel(s *snapshot.Snapshot) *model {
	m := &model{
		s:             s,
		mesh:          s.Mesh,
		clusterDomain: "cluster.local",
		namespaces:    map[string]*corev1.Namespace{},
		podByIP:       map[string]*corev1.Pod{},
		podByKey:      map[string]*corev1.Pod{},
		byHost:        map[string][]*service{},
		slices:        map[string][]*discoveryv1.EndpointSlice{},

		byPodNamespace: map[string][]*service{},
	}
	if m.mesh.RootNamespace == "" {
		m.mesh = snapshot.DefaultMeshConfig()
	}
	for i := range s.Namespaces {
		m.namespaces[s.Namespaces[i].Name] = &s.Namespaces[i]
	}
	for i := range s.Pods {
		p := &s.Pods[i]
		m.pods = append(m.pods, p)
		m.podByKey[p.Namespace+"/"+p.Name] = p
		if p.Spec.HostNetwork {
			continue // host-network pods share the node IP
		}
		for _, ip := range podIPs(p) {
			if old, ok := m.podByIP[ip]; !ok || podTerminated(old) {
				m.podByIP[ip] = p
			}
		}
	}
	m.controlPlanes = newControlPlanes(s.ControlPlane)
	m.meshVersionCheck() // before the services: their exportTo defaults come from the mesh config
	for i := range s.EndpointSlices {
		es := &s.EndpointSlices[i]
		name := es.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := es.Namespace + "/" + name
		m.slices[k] = append(m.slices[k], es)
	}
	for i := range s.Services {
		if svc := m.convertKubeService(&s.Services[i]); svc != nil {
			m.services = append(m.services, svc)
		}
	}
	for _, se := range s.ServiceEntries {
		m.services = append(m.services, m.convertServiceEntry(se)...)
	}
	// Istio orders services by creation time, then hostname
	// (pilot/pkg/model/push_context.go sortServicesByCreationTime).
	sort.SliceStable(m.services, func(i, j int) bool {
		a, b := m.services[i], m.services[j]
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		if a.hostname != b.hostname {
			return a.hostname < b.hostname
		}
		return a.namespace < b.namespace
	})
	m.detectVersionAndDomain()
	m.waypoints = ambientWaypoints(s.Gateways)
	// Indexes: a 10 000-pod cluster has ~5 000 Services, and the model asks
	// these per request (docs/PERFORMANCE.md).
	m.byPort, m.kubeByName, m.aliases = map[int32][]*service{}, map[string]*service{}, map[string][]string{}
	m.serviceAddrs, m.clusterIPs = map[string]bool{}, map[string]bool{}
	for _, svc := range m.services {
		for _, a := range svc.addresses {
			m.serviceAddrs[a] = true
			if svc.isKube() {
				m.clusterIPs[a] = true
			}
		}
		m.byHost[svc.hostname] = append(m.byHost[svc.hostname], svc)
		seen := map[int32]bool{}
		for _, sp := range svc.ports {
			if !seen[sp.port] {
				seen[sp.port] = true
				m.byPort[sp.port] = append(m.byPort[sp.port], svc)
			}
		}
		if svc.isKube() {
			if _, dup := m.kubeByName[svc.key()]; !dup {
				m.kubeByName[svc.key()] = svc
			}
			if svc.resolution == "Alias" {
				target := strings.ToLower(strings.TrimSuffix(svc.kube.Spec.ExternalName, "."))
				m.aliases[target] = append(m.aliases[target], svc.hostname)
			}
		}
	}
	return m
}

func podIPs(p *corev1.Pod) []string {
	var out []string
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	if len(out) == 0 && p.Status.PodIP != "" {
		out = append(out, p.Status.PodIP)
	}
	return out
}

func podTerminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil
}

// convertKubeService mirrors pilot/pkg/serviceregistry/kube/conversion.go
// ConvertService (Istio 1.31): ClusterIP None → Passthrough resolution with
// address 0.0.0.0; ExternalName → Alias (no listeners); exportTo from the
// networking.istio.io/exportTo annotation.
func (m *model) convertKubeService(k *corev1.Service) *service {
	svc := &service{
		hostname:   fmt.Sprintf("%s.%s.svc.%s", k.Name, k.Namespace, m.clusterDomain),
		namespace:  k.Namespace,
		name:       k.Name,
		kube:       k,
		resolution: "ClientSideLB",
		created:    k.CreationTimestamp.Time,
	}
	switch {
	case k.Spec.Type == corev1.ServiceTypeExternalName:
		svc.resolution = "Alias"
	case k.Spec.ClusterIP == corev1.ClusterIPNone:
		svc.resolution = "Passthrough"
	default:
		for _, ip := range k.Spec.ClusterIPs {
			if ip != "" && ip != corev1.ClusterIPNone {
				svc.addresses = append(svc.addresses, ip)
			}
		}
		if len(svc.addresses) == 0 && k.Spec.ClusterIP != "" {
			svc.addresses = []string{k.Spec.ClusterIP}
		}
	}
	for i, p := range k.Spec.Ports {
		svc.ports = append(svc.ports, &servicePort{
			name:       p.Name,
			port:       p.Port,
			protocol:   convertProtocol(p.Port, p.Name, string(p.Protocol), p.AppProtocol),
			targetPort: p.TargetPort,
			index:      i,
		})
	}
	if v, ok := k.Annotations["networking.istio.io/exportTo"]; ok && v != "" {
		for _, e := range strings.Split(v, ",") {
			svc.exportTo = append(svc.exportTo, strings.TrimSpace(e))
		}
	} else {
		svc.exportTo = m.mesh.DefaultServiceExportTo
	}
	return svc
}

// convertServiceEntry mirrors pilot/pkg/serviceregistry/serviceentry/conversion.go
// convertServices: one service per host; resolution NONE → Passthrough.
func (m *model) convertServiceEntry(se *networkingv1.ServiceEntry) []*service {
	var out []*service
	spec := &se.Spec
	res := "ClientSideLB"
	switch spec.GetResolution().String() {
	case "NONE":
		res = "Passthrough"
	case "DNS", "DNS_ROUND_ROBIN":
		res = "DNS"
	}
	exportTo := spec.GetExportTo()
	if len(exportTo) == 0 {
		exportTo = m.mesh.DefaultServiceExportTo
	}
	for _, h := range spec.GetHosts() {
		svc := &service{
			hostname:     strings.ToLower(h),
			namespace:    se.Namespace,
			name:         se.Name,
			se:           se,
			resolution:   res,
			exportTo:     exportTo,
			meshExternal: spec.GetLocation().String() != "MESH_INTERNAL",
			created:      se.CreationTimestamp.Time,
		}
		// serviceentry/conversion.go convertServices: IPs as they are, CIDRs
		// as prefixes except a full-length one (/32, /128), which becomes a
		// plain IP (and so gets its own IP_PORT listener); anything else is
		// dropped.
		for _, a := range spec.GetAddresses() {
			if ip, err := netip.ParseAddr(a); err == nil {
				svc.addresses = append(svc.addresses, ip.String())
			} else if pfx, err := netip.ParsePrefix(a); err == nil {
				if pfx.Bits() == pfx.Addr().BitLen() {
					a = pfx.Addr().String()
				}
				svc.addresses = append(svc.addresses, a)
			}
		}
		if len(spec.GetAddresses()) == 0 && m.autoAllocates(se) {
			for _, a := range se.Status.GetAddresses() {
				if strings.EqualFold(a.GetHost(), h) {
					if ip, err := netip.ParseAddr(a.GetValue()); err == nil {
						svc.autoAddresses = append(svc.autoAddresses, ip.String())
					}
				}
			}
		}
		for i, p := range spec.GetPorts() {
			tp := intstr.FromInt32(int32(p.GetNumber()))
			if p.GetTargetPort() != 0 {
				tp = intstr.FromInt32(int32(p.GetTargetPort()))
			}
			svc.ports = append(svc.ports, &servicePort{
				name:       p.GetName(),
				port:       int32(p.GetNumber()),
				protocol:   parseProtocol(p.GetProtocol()),
				targetPort: tp,
				index:      i,
			})
		}
		out = append(out, svc)
	}
	return out
}

// autoAllocates mirrors pilot/pkg/networking/serviceentry
// ip_autoallocation.go shouldV2AutoAllocateIP: not for resolution NONE, nor
// when the ServiceEntry opts out with the label
// networking.istio.io/enable-autoallocate-ip=false (spec addresses are
// checked by the caller). Whether istiod's controller runs at all is the
// proxy's question (sidecarScope.autoVIPs).
func (m *model) autoAllocates(se *networkingv1.ServiceEntry) bool {
	if se.Spec.GetResolution().String() == "NONE" {
		return false
	}
	return !strings.EqualFold(se.Labels["networking.istio.io/enable-autoallocate-ip"], "false")
}

// endpoints returns the endpoints of a service port (Istio's
// ServiceEndpointsByPort). For Kubernetes services they come from the
// EndpointSlices, matched to the service port by port name as the
// EndpointSlice controller writes them.
func (m *model) endpoints(svc *service, sp *servicePort, readyOnly bool) []endpoint {
	var out []endpoint
	if svc.isKube() {
		for _, es := range m.slices[svc.key()] {
			if es.AddressType == discoveryv1.AddressTypeFQDN {
				continue
			}
			var port int32 = -1
			for _, p := range es.Ports {
				name := ""
				if p.Name != nil {
					name = *p.Name
				}
				if name == sp.name && p.Port != nil {
					port = *p.Port
				}
			}
			if port < 0 {
				continue
			}
			for _, ep := range es.Endpoints {
				ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
				if readyOnly && !ready && !svc.kube.Spec.PublishNotReadyAddresses {
					continue
				}
				for _, a := range ep.Addresses {
					e := endpoint{ip: a, port: port, ready: ready}
					if ep.Hostname != nil {
						e.hostname = *ep.Hostname
					}
					if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
						e.pod = m.podByKey[ep.TargetRef.Namespace+"/"+ep.TargetRef.Name]
						if e.pod == nil && ep.TargetRef.Namespace == "" {
							e.pod = m.podByKey[es.Namespace+"/"+ep.TargetRef.Name]
						}
					}
					if e.pod == nil {
						e.pod = m.podByIP[a]
					}
					if e.pod != nil {
						e.labels = e.pod.Labels
					}
					out = append(out, e)
				}
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return ipLess(out[i].ip, out[j].ip) })
		return out
	}
	// ServiceEntry: static endpoints, or the workloads its selector picks.
	spec := &svc.se.Spec
	for _, we := range spec.GetEndpoints() {
		port := sp.port
		if p, ok := we.GetPorts()[sp.name]; ok && p != 0 {
			port = int32(p)
		} else if sp.targetPort.IntVal != 0 {
			port = sp.targetPort.IntVal
		}
		e := endpoint{ip: we.GetAddress(), port: port, ready: true, labels: we.GetLabels()}
		e.pod = m.podByIP[e.ip]
		out = append(out, e)
	}
	if len(spec.GetEndpoints()) == 0 && svc.resolution == "DNS" {
		// DNS resolution without endpoints: Envoy resolves the host itself.
		port := sp.port
		if sp.targetPort.IntVal != 0 {
			port = sp.targetPort.IntVal
		}
		out = append(out, endpoint{ip: svc.hostname, port: port, ready: true})
	}
	if sel := spec.GetWorkloadSelector().GetLabels(); len(sel) > 0 {
		for _, p := range m.pods {
			if p.Namespace == svc.namespace && labelsMatch(sel, p.Labels) && len(podIPs(p)) > 0 && podReady(p) {
				out = append(out, endpoint{ip: podIPs(p)[0], port: sp.targetPort.IntVal, pod: p, ready: true, labels: p.Labels})
			}
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func ipLess(a, b string) bool {
	ia, ib := net.ParseIP(a), net.ParseIP(b)
	if ia == nil || ib == nil {
		return a < b
	}
	return string(ia.To16()) < string(ib.To16())
}

// detectVersionAndDomain reads the Istio version from the istio-proxy image
// tag of the injected pods (first found) and the cluster DNS domain from the
// proxy's --domain argument ($(POD_NAMESPACE).svc.<domain>).
func (m *model) detectVersionAndDomain() {
	m.istioMinor = 31
	m.istioVersion = ""
	for _, p := range m.pods {
		c := istioProxyContainer(p)
		if c == nil {
			continue
		}
		for i, a := range c.Args {
			if a == "--domain" && i+1 < len(c.Args) {
				if _, dom, ok := strings.Cut(c.Args[i+1], ".svc."); ok && dom != "" {
					m.clusterDomain = dom
				}
			}
		}
		if m.istioVersion == "" {
			if v, minor := imageVersion(c.Image); minor > 0 {
				m.istioVersion, m.istioMinor = v, minor
			}
		}
	}
	if m.istioVersion == "" {
		// An ambient-only mesh: no sidecar, the ztunnels' images say.
		for i := range m.s.Ztunnels {
			if c := firstContainer(&m.s.Ztunnels[i], "istio-proxy"); c != nil {
				if v, minor := imageVersion(c.Image); minor > 0 {
					m.istioVersion, m.istioMinor = v, minor
					break
				}
			}
		}
	}
	m.proxyVersion, m.proxyMinor = m.istioVersion, m.istioMinor
}

// imageVersion extracts "1.31.0" and 31 from ".../proxyv2:1.31.0-distroless".
func imageVersion(image string) (string, int) {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return "", 0
	}
	tag := strings.TrimPrefix(image[i+1:], "v")
	parts := strings.SplitN(tag, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return "", 0
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil {
		return "", 0
	}
	v := tag
	if j := strings.IndexAny(v, "-_"); j > 0 {
		v = v[:j]
	}
	return v, minor
}

func (m *model) isClusterIP(ip string) bool { return m.clusterIPs[ip] }
