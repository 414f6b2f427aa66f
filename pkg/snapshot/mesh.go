package snapshot

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// meshYAML is the on-disk shape of the ConfigMap's `mesh` key (camelCase, as
// istioctl and the Helm chart write it).
type meshYAML struct {
	OutboundTrafficPolicy *struct {
		Mode string `json:"mode"`
	} `json:"outboundTrafficPolicy"`
	InboundTrafficPolicy *struct {
		Mode string `json:"mode"`
	} `json:"inboundTrafficPolicy"`
	RootNamespace                  string           `json:"rootNamespace"`
	TrustDomain                    string           `json:"trustDomain"`
	TrustDomainAliases             []string         `json:"trustDomainAliases"`
	ExtensionProviders             []map[string]any `json:"extensionProviders"`
	EnableAutoMtls                 *bool            `json:"enableAutoMtls"`
	DefaultServiceExportTo         []string         `json:"defaultServiceExportTo"`
	DefaultVirtualServiceExportTo  []string         `json:"defaultVirtualServiceExportTo"`
	DefaultDestinationRuleExportTo []string         `json:"defaultDestinationRuleExportTo"`
	DefaultConfig                  *struct {
		ProxyMetadata map[string]string `json:"proxyMetadata"`
	} `json:"defaultConfig"`
}

// ParseMeshConfig overlays the `mesh` text of the istio ConfigMap on Istio's
// defaults, as istiod does (pkg/config/mesh/mesh.go ApplyMeshConfig).
func ParseMeshConfig(text string) (MeshConfig, error) {
	m := DefaultMeshConfig()
	if text == "" {
		return m, nil
	}
	var y meshYAML
	if err := yaml.Unmarshal([]byte(text), &y); err != nil {
		return m, fmt.Errorf("invalid mesh config: %w", err)
	}
	if y.OutboundTrafficPolicy != nil && y.OutboundTrafficPolicy.Mode != "" {
		m.OutboundTrafficPolicy = y.OutboundTrafficPolicy.Mode
	}
	if y.InboundTrafficPolicy != nil && y.InboundTrafficPolicy.Mode != "" {
		m.InboundTrafficPolicy = y.InboundTrafficPolicy.Mode
	}
	if y.RootNamespace != "" {
		m.RootNamespace = y.RootNamespace
	}
	if y.TrustDomain != "" {
		m.TrustDomain = y.TrustDomain
	}
	m.TrustDomainAliases = y.TrustDomainAliases
	for _, p := range y.ExtensionProviders {
		name, _ := p["name"].(string)
		if name == "" {
			continue
		}
		if m.ExtensionProviders == nil {
			m.ExtensionProviders = map[string]ExtensionProvider{}
		}
		var ep ExtensionProvider
		for k, v := range p {
			if k == "name" {
				continue
			}
			ep.Kind = k // envoyExtAuthzHttp, envoyExtAuthzGrpc, ...
			if spec, ok := v.(map[string]any); ok {
				ep.Service, _ = spec["service"].(string)
			}
		}
		m.ExtensionProviders[name] = ep
	}
	if y.EnableAutoMtls != nil {
		m.EnableAutoMtls = *y.EnableAutoMtls
	}
	if len(y.DefaultServiceExportTo) > 0 {
		m.DefaultServiceExportTo = y.DefaultServiceExportTo
	}
	if len(y.DefaultVirtualServiceExportTo) > 0 {
		m.DefaultVirtualServiceExportTo = y.DefaultVirtualServiceExportTo
	}
	if len(y.DefaultDestinationRuleExportTo) > 0 {
		m.DefaultDestinationRuleExportTo = y.DefaultDestinationRuleExportTo
	}
	if y.DefaultConfig != nil && len(y.DefaultConfig.ProxyMetadata) > 0 {
		m.ProxyMetadata = y.DefaultConfig.ProxyMetadata
	}
	return m, nil
}
