package explain

import (
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// parseProtocol mirrors pkg/config/protocol/instance.go Parse (Istio 1.31):
// case-insensitive, unknown names are Unsupported (auto-detect).
func parseProtocol(s string) api.Protocol {
	switch strings.ToLower(s) {
	case "tcp":
		return api.ProtocolTCP
	case "udp":
		return api.ProtocolUDP
	case "grpc":
		return api.ProtocolGRPC
	case "grpc-web":
		return api.ProtocolGRPCWeb
	case "http":
		return api.ProtocolHTTP
	case "http_proxy":
		return api.ProtocolHTTPProxy
	case "http2":
		return api.ProtocolHTTP2
	case "https":
		return api.ProtocolHTTPS
	case "tls":
		return api.ProtocolTLS
	case "mongo":
		return api.ProtocolMongo
	case "redis":
		return api.ProtocolRedis
	case "mysql":
		return api.ProtocolMySQL
	}
	return api.ProtocolAuto
}

// wellKnownTCPPorts mirrors the port list in pkg/config/kube/conversion.go
// (Istio 1.31): server-first protocols that sniffing cannot detect.
var wellKnownTCPPorts = map[int32]bool{25: true, 53: true, 3306: true, 27017: true}

// convertProtocol mirrors pkg/config/kube/conversion.go ConvertProtocol
// (Istio 1.31): UDP wins; appProtocol, when set, replaces the port name
// entirely (kubernetes.io/h2c|ws|wss are mapped); a grpc-web prefix is checked
// before the text up to the first '-'; well-known server-first ports are TCP.
func convertProtocol(port int32, name, k8sProto string, appProtocol *string) api.Protocol {
	if strings.EqualFold(k8sProto, "UDP") {
		return api.ProtocolUDP
	}
	if appProtocol != nil && *appProtocol != "" {
		switch *appProtocol {
		case "kubernetes.io/h2c":
			return api.ProtocolHTTP2
		case "kubernetes.io/ws":
			return api.ProtocolHTTP
		case "kubernetes.io/wss":
			return api.ProtocolHTTPS
		}
		name = *appProtocol
	}
	if len(name) >= len("grpc-web") && strings.EqualFold(name[:len("grpc-web")], "grpc-web") {
		return api.ProtocolGRPCWeb
	}
	prefix, _, _ := strings.Cut(name, "-")
	p := parseProtocol(prefix)
	if p == api.ProtocolAuto && wellKnownTCPPorts[port] {
		return api.ProtocolTCP
	}
	return p
}

// isHTTP mirrors protocol.Instance.IsHTTP.
func isHTTP(p api.Protocol) bool {
	switch p {
	case api.ProtocolHTTP, api.ProtocolHTTP2, api.ProtocolHTTPProxy, api.ProtocolGRPC, api.ProtocolGRPCWeb:
		return true
	}
	return false
}

// isTCP mirrors protocol.Instance.IsTCP.
func isTCP(p api.Protocol) bool {
	switch p {
	case api.ProtocolTCP, api.ProtocolHTTPS, api.ProtocolTLS, api.ProtocolMongo, api.ProtocolRedis, api.ProtocolMySQL:
		return true
	}
	return false
}

func isHTTPOrSniffed(p api.Protocol) bool { return isHTTP(p) || p == api.ProtocolAuto }

// listenerProtocol mirrors networking.ModelProtocolToListenerProtocol.
func listenerProtocol(p api.Protocol) api.Protocol {
	switch {
	case isHTTP(p):
		return api.ProtocolHTTP
	case isTCP(p):
		return api.ProtocolTCP
	case p == api.ProtocolAuto:
		return api.ProtocolAuto
	}
	return "" // UDP and unknown: no listener
}
