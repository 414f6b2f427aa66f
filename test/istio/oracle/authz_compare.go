package oracle

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// The figures issue 11 asks of the authorization comparison: requests
// whose destination chain carries istiod's RBAC / ext_authz filters, and
// worlds with AuthorizationPolicies. ISTIODIFF_AUTHZ_MIN="REQUESTS/WORLDS"
// lowers them while worlds are being written ("0/0" turns the check off).
var authzMinRequests, authzMinWorlds = 300, 20

func init() {
	if v := os.Getenv("ISTIODIFF_AUTHZ_MIN"); v != "" {
		if _, err := fmt.Sscanf(v, "%d/%d", &authzMinRequests, &authzMinWorlds); err != nil {
			fmt.Fprintf(os.Stderr, "ISTIODIFF_AUTHZ_MIN=%q: want REQUESTS/WORLDS: %v\n", v, err)
			os.Exit(2)
		}
	}
}

// authzInput is what the destination's RBAC filters see of one of our
// requests: the source pod's address and, only when Istio mTLS reaches the
// destination, its workload identity
// (spiffe://TRUST_DOMAIN/ns/NS/sa/SA, the mesh config's trust domain); the
// destination pod address and target port; for HTTP the Host the app sends
// as :authority, the path, the method (the report's, else --method, else
// GET) and the -H headers of the query.
func authzInput(w *world, rep *api.Reachability, r api.Request, query []string, tls, sni string, chain authzChain, dstIP string) *rbacRequest {
	req := &rbacRequest{
		HTTP:     chain.HTTP,
		DestIP:   net.ParseIP(dstIP),
		DestPort: uint32(r.Inbound.Port),
		Headers:  map[string]string{},
	}
	srcIP := rep.Source.IP
	src := w.Pods[rep.Source.Namespace+"/"+rep.Source.Name]
	if srcIP == "" && src != nil {
		if st, ok := src["status"].(map[string]any); ok {
			srcIP, _ = st["podIP"].(string)
		}
	}
	req.SourceIP = net.ParseIP(srcIP)
	if tls == string(api.TLSMutual) && rep.Source.Dataplane == api.DataplaneSidecar && src != nil {
		td := w.Mesh.GetTrustDomain()
		if td == "" {
			td = "cluster.local"
		}
		req.Principal = fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", td, rep.Source.Namespace, serviceAccount(src))
		req.TLS = true
		req.SNI = sni
	}
	if req.HTTP {
		method, headers := queryRequest(query)
		if r.Method != "" {
			method = strings.ToUpper(r.Method)
		}
		for k, v := range headers {
			req.Headers[k] = v
		}
		req.Headers[":authority"] = r.Host
		req.Headers[":method"] = method
		path := r.Path
		if path == "" {
			path = "/"
		}
		req.Headers[":path"] = normalizePath(chain.HCM, path)
	}
	req.RemoteIP = remoteIP(chain.HCM, req.SourceIP, req.Headers["x-forwarded-for"])
	return req
}

// queryRequest reads the method (--method, default GET) and the headers
// (-H/--header "Name: value", lower-cased names; Host goes to :authority
// through the report's host) of a query line.
func queryRequest(args []string) (method string, headers map[string]string) {
	method, headers = "GET", map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var flag, val string
		switch {
		case a == "--method" || a == "-H" || a == "--header":
			if i+1 < len(args) {
				flag, val = a, args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--method="):
			flag, val = "--method", strings.TrimPrefix(a, "--method=")
		case strings.HasPrefix(a, "--header="):
			flag, val = "-H", strings.TrimPrefix(a, "--header=")
		case strings.HasPrefix(a, "-H") && len(a) > 2:
			flag, val = "-H", a[2:]
		}
		switch flag {
		case "--method":
			method = strings.ToUpper(val)
		case "-H", "--header":
			if k, v, ok := strings.Cut(val, ":"); ok && !strings.EqualFold(strings.TrimSpace(k), "host") {
				headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	return method, headers
}

// compareAuthz adds the authorization fields that differ between our
// report and Envoy's decision with istiod's filters. For an allow by ALLOW
// policies, any matching rule is right (Envoy needs one and logs none); a
// deny names the policy Envoy logs (the first matching in name order).
func compareAuthz(add func(field string, ours, istio any), ours *api.Authorization, got istioAuthz) {
	if ours == nil {
		ours = &api.Authorization{Decision: "(none)"}
	}
	add("authz.decision", ours.Decision, got.Decision)
	add("authz.action", ours.Action, got.Action)
	name := got.Policy
	for _, m := range got.Matching {
		if p, rule, _, ok := parsePolicyName(m); ok && p == ours.Policy && ours.Rule != nil && *ours.Rule == rule {
			name = m
		}
	}
	policy, rule := "", ""
	if p, i, _, ok := parsePolicyName(name); ok {
		policy, rule = p, fmt.Sprint(i)
	}
	oursRule := ""
	if ours.Rule != nil && ours.Policy != "" {
		oursRule = fmt.Sprint(*ours.Rule)
	}
	add("authz.policy", ours.Policy, policy)
	add("authz.rule", oursRule, rule)
	if got.Decision == "custom" && got.Provider != "" && ours.Provider != "" {
		add("authz.provider", ours.Provider, got.Provider)
	}
}

// describe prints Envoy's decision for people (the per-request listing).
func (a istioAuthz) describe() string {
	s := a.Decision
	if a.Action != "" {
		s += " " + a.Action
	}
	if a.Policy != "" {
		s += " " + a.Policy
	}
	if len(a.Matching) > 1 {
		s += " (also " + strings.Join(slices.Delete(slices.Clone(a.Matching), 0, 1), ", ") + ")"
	}
	if a.Provider != "" {
		s += " provider " + a.Provider
	}
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}
