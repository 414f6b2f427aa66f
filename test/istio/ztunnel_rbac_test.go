package istiodiff

// A Go transcription of ztunnel's L4 authorization (istio/ztunnel at tag
// 1.31.0-rc.0, commit e94018b3005032317a46c4f169007bf6fee7a710):
// src/rbac.rs Authorization::matches / matches_internal / StringMatch and
// src/state.rs assert_rbac. ztunnel is Rust and cannot run here; its policies
// are the security.Authorization protos istiod sends it, taken as they come
// from Istio's own ambient index (pilot/pkg/serviceregistry/ambient).

import (
	"net/netip"
	"slices"
	"strings"

	"istio.io/istio/pkg/workloadapi/security"
)

// ztunnelConn is rbac.rs Connection: the source and destination sockets and
// the peer identity HBONE presented (nil for plaintext).
type ztunnelConn struct {
	src, dst netip.AddrPort
	identity *spiffeID
}

// spiffeID is identity.rs Identity::Spiffe.
type spiffeID struct{ trustDomain, namespace, serviceAccount string }

func (i *spiffeID) String() string {
	return "spiffe://" + i.trustDomain + "/ns/" + i.namespace + "/sa/" + i.serviceAccount
}

// policyMatches is rbac.rs Authorization::matches. istiod's Groups are
// ztunnel's rules (any matches), a Group's Rules its clauses (all must
// match), a Rules' Matches its matches (any matches; an empty match never
// does, an empty clause always does). A policy without rules matches nothing.
func policyMatches(p *security.Authorization, c ztunnelConn) bool {
	id, ns := "", ""
	if c.identity != nil {
		id, ns = c.identity.String(), c.identity.namespace
	}
	if len(p.GetGroups()) == 0 {
		return false
	}
	for _, rule := range p.GetGroups() {
		ruleMatch := true
		for _, clause := range rule.GetRules() {
			clauseMatch := false
			for _, m := range clause.GetMatches() {
				if matchEmpty(m) {
					continue
				}
				ok := both(m.GetDestinationIps(), m.GetNotDestinationIps(), func(a *security.Address) bool { return cidrContains(a, c.dst.Addr()) }) &&
					both(m.GetSourceIps(), m.GetNotSourceIps(), func(a *security.Address) bool { return cidrContains(a, c.src.Addr()) }) &&
					both(m.GetDestinationPorts(), m.GetNotDestinationPorts(), func(p uint32) bool { return uint16(p) == c.dst.Port() }) &&
					both(m.GetServiceAccounts(), m.GetNotServiceAccounts(), func(s *security.ServiceAccountMatch) bool {
						return c.identity != nil && s.GetNamespace() == c.identity.namespace && s.GetServiceAccount() == c.identity.serviceAccount
					}) &&
					both(nonNil(m.GetPrincipals()), nonNil(m.GetNotPrincipals()), func(s *security.StringMatch) bool { return matchesPrincipal(s, id) }) &&
					both(nonNil(m.GetNamespaces()), nonNil(m.GetNotNamespaces()), func(s *security.StringMatch) bool { return stringMatches(s, ns) })
				if ok {
					clauseMatch = true
					break
				}
			}
			if len(clause.GetMatches()) == 0 {
				clauseMatch = true
			}
			ruleMatch = ruleMatch && clauseMatch
			if !ruleMatch {
				break
			}
		}
		if ruleMatch {
			return true
		}
	}
	return false
}

// both is matches_internal: any positive matches (or none declared) and no
// negative matches (or none declared).
func both[T any](positive, negative []T, pred func(T) bool) bool {
	pm := len(positive) == 0 || slices.ContainsFunc(positive, pred)
	nm := len(negative) == 0 || !slices.ContainsFunc(negative, pred)
	return pm && nm
}

// nonNil drops the StringMatches without a match type, as ztunnel's
// From<&XdsStringMatch> for Option<StringMatch> + filter_map does.
func nonNil(ms []*security.StringMatch) []*security.StringMatch {
	return slices.DeleteFunc(slices.Clone(ms), func(m *security.StringMatch) bool { return m.GetMatchType() == nil })
}

// matchEmpty is RbacMatch::is_empty (after the conversion drops unset
// string matches).
func matchEmpty(m *security.Match) bool {
	return len(nonNil(m.GetNamespaces())) == 0 && len(nonNil(m.GetNotNamespaces())) == 0 &&
		len(m.GetServiceAccounts()) == 0 && len(m.GetNotServiceAccounts()) == 0 &&
		len(nonNil(m.GetPrincipals())) == 0 && len(nonNil(m.GetNotPrincipals())) == 0 &&
		len(m.GetSourceIps()) == 0 && len(m.GetNotSourceIps()) == 0 &&
		len(m.GetDestinationIps()) == 0 && len(m.GetNotDestinationIps()) == 0 &&
		len(m.GetDestinationPorts()) == 0 && len(m.GetNotDestinationPorts()) == 0
}

// matchesPrincipal is StringMatch::matches_principal: Istio's principals
// omit "spiffe://"; an identity without it matches nothing.
func matchesPrincipal(m *security.StringMatch, id string) bool {
	check, ok := strings.CutPrefix(id, "spiffe://")
	return ok && stringMatches(m, check)
}

// stringMatches is StringMatch::matches.
func stringMatches(m *security.StringMatch, check string) bool {
	switch t := m.GetMatchType().(type) {
	case *security.StringMatch_Prefix:
		return strings.HasPrefix(check, t.Prefix)
	case *security.StringMatch_Suffix:
		return strings.HasSuffix(check, t.Suffix)
	case *security.StringMatch_Exact:
		return t.Exact == check
	case *security.StringMatch_Presence:
		return check != ""
	}
	return false
}

// cidrContains is IpNet::contains on the Address istiod sends (bytes +
// prefix length); an address ztunnel cannot parse is dropped by its
// conversion (filter_map ... try_into().ok()), i.e. never matches here.
func cidrContains(a *security.Address, ip netip.Addr) bool {
	addr, ok := netip.AddrFromSlice(a.GetAddress())
	if !ok {
		return false
	}
	p, err := addr.Prefix(int(a.GetLength()))
	return err == nil && p.Contains(ip.Unmap())
}

// rbacResult is assert_rbac's answer: allowed, and the policy ztunnel names
// (ExplicitlyDenied(ns, name) / the ALLOW that matched). ztunnel walks its
// policies in hash-set order, so when several DENY (or ALLOW) policies
// match, any of them may be the one named: candidates lists them all.
type rbacResult struct {
	allow      bool
	candidates []string // NS/NAME
}

// assertRBAC is state.rs assert_rbac for a destination workload: the
// policies of its namespace, the global ones (root namespace, no selector)
// and those istiod lists on the Workload; dry-run ones only log.
func assertRBAC(policies []*security.Authorization, c ztunnelConn) rbacResult {
	var allow, deny []*security.Authorization
	for _, p := range policies {
		if p.GetDryRun() {
			continue
		}
		if p.GetAction() == security.Action_ALLOW {
			allow = append(allow, p)
		} else {
			deny = append(deny, p)
		}
	}
	var denied []string
	for _, p := range deny {
		if policyMatches(p, c) {
			denied = append(denied, p.GetNamespace()+"/"+p.GetName())
		}
	}
	if len(denied) > 0 {
		return rbacResult{allow: false, candidates: denied}
	}
	if len(allow) == 0 {
		return rbacResult{allow: true}
	}
	var allowed []string
	for _, p := range allow {
		if policyMatches(p, c) {
			allowed = append(allowed, p.GetNamespace()+"/"+p.GetName())
		}
	}
	return rbacResult{allow: len(allowed) > 0, candidates: allowed}
}
