package explain

import "testing"

// TestVersionRules: each rule starts at its minor, the control plane's flag
// overrides the default while the flag exists, and the skew policy.
func TestVersionRules(t *testing.T) {
	tests := []struct {
		name  string
		id    ruleID
		minor int
		flags map[string]string // nil: no istiod read
		want  bool
	}{
		{"fqdn vhost before 1.27", ruleAbsoluteFQDNVhost, 26, nil, false},
		{"fqdn vhost at 1.27", ruleAbsoluteFQDNVhost, 27, nil, true},
		{"fqdn vhost turned off", ruleAbsoluteFQDNVhost, 31, map[string]string{"PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN": "false"}, false},
		{"fqdn vhost, a flag that is no bool", ruleAbsoluteFQDNVhost, 31, map[string]string{"PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN": "maybe"}, true},
		{"auto-allocation controller at 1.24", ruleSEAutoAllocateController, 24, nil, false},
		{"auto-allocation controller at 1.25", ruleSEAutoAllocateController, 25, nil, true},
		{"auto-allocation controller turned on at 1.24", ruleSEAutoAllocateController, 24, map[string]string{"PILOT_ENABLE_IP_AUTOALLOCATE": "true"}, true},
		{"auto-allocation controller turned off", ruleSEAutoAllocateController, 31, map[string]string{"PILOT_ENABLE_IP_AUTOALLOCATE": "false"}, false},
		{"ExternalName alias turned off at 1.23", ruleExternalNameAlias, 23, map[string]string{"ENABLE_EXTERNAL_NAME_ALIAS": "false"}, false},
		{"ExternalName alias flag gone at 1.24", ruleExternalNameAlias, 24, map[string]string{"ENABLE_EXTERNAL_NAME_ALIAS": "false"}, true},
		{"ExternalName alias before 1.21", ruleExternalNameAlias, 20, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &model{istioMinor: tt.minor}
			if tt.flags != nil {
				m.cp = &controlPlane{minor: tt.minor, flags: tt.flags}
			}
			if got := m.istiodRule(tt.id); got != tt.want {
				t.Errorf("istiodRule = %v, want %v", got, tt.want)
			}
		})
	}
	skew := []struct {
		istiod, proxy int
		want          bool
	}{{31, 31, true}, {31, 30, true}, {31, 29, false}, {30, 31, false}}
	for _, s := range skew {
		if got := skewSupported(s.istiod, s.proxy); got != s.want {
			t.Errorf("skewSupported(1.%d, 1.%d) = %v, want %v", s.istiod, s.proxy, got, s.want)
		}
	}
}
