package explain

import "strings"

// Istio protocol names as the report shows them.
const (
	ProtoHTTP      = "HTTP"
	ProtoHTTP2     = "HTTP2"
	ProtoHTTPProxy = "HTTP_PROXY"
	ProtoGRPC      = "GRPC"
	ProtoGRPCWeb   = "GRPC-WEB"
	ProtoTCP       = "TCP"
	ProtoHTTPS     = "HTTPS"
	ProtoTLS       = "TLS"
	ProtoMongo     = "MONGO"
	ProtoRedis     = "REDIS"
	ProtoMySQL     = "MYSQL"
	ProtoUDP       = "UDP"
	ProtoAuto      = "AUTO" // Istio's "UnsupportedProtocol": sniffed at run time
)

// parseProtocol mirrors pkg/config/protocol/instance.go Parse (Istio 1.31):
// case-insensitive, unknown names are Unsupported (auto-detect).
func parseProtocol(s string) string {
	switch strings.ToLower(s) {
	case "tcp":
		return ProtoTCP
	case "udp":
		return ProtoUDP
	case "grpc":
		return ProtoGRPC
	case "grpc-web":
		return ProtoGRPCWeb
	case "http":
		return ProtoHTTP
	case "http_proxy":
		return ProtoHTTPProxy
	case "http2":
		return ProtoHTTP2
	case "https":
		return ProtoHTTPS
	case "tls":
		return ProtoTLS
	case "mongo":
		return ProtoMongo
	case "redis":
		return ProtoRedis
	case "mysql":
		return ProtoMySQL
	}
	return ProtoAuto
}

// wellKnownTCPPorts mirrors the port list in pkg/config/kube/conversion.go
// (Istio 1.31): server-first protocols that sniffing cannot detect.
var wellKnownTCPPorts = map[int32]bool{25: true, 53: true, 3306: true, 27017: true}

// convertProtocol mirrors pkg/config/kube/conversion.go ConvertProtocol
// (Istio 1.31): UDP wins; appProtocol, when set, replaces the port name
// entirely (kubernetes.io/h2c|ws|wss are mapped); a grpc-web prefix is checked
// before the text up to the first '-'; well-known server-first ports are TCP.
func convertProtocol(port int32, name, k8sProto string, appProtocol *string) string {
	if strings.EqualFold(k8sProto, "UDP") {
		return ProtoUDP
	}
	if appProtocol != nil && *appProtocol != "" {
		switch *appProtocol {
		case "kubernetes.io/h2c":
			return ProtoHTTP2
		case "kubernetes.io/ws":
			return ProtoHTTP
		case "kubernetes.io/wss":
			return ProtoHTTPS
		}
		name = *appProtocol
	}
	if len(name) >= len("grpc-web") && strings.EqualFold(name[:len("grpc-web")], "grpc-web") {
		return ProtoGRPCWeb
	}
	prefix, _, _ := strings.Cut(name, "-")
	p := parseProtocol(prefix)
	if p == ProtoAuto && wellKnownTCPPorts[port] {
		return ProtoTCP
	}
	return p
}

// isHTTP mirrors protocol.Instance.IsHTTP.
func isHTTP(p string) bool {
	switch p {
	case ProtoHTTP, ProtoHTTP2, ProtoHTTPProxy, ProtoGRPC, ProtoGRPCWeb:
		return true
	}
	return false
}

// isTCP mirrors protocol.Instance.IsTCP.
func isTCP(p string) bool {
	switch p {
	case ProtoTCP, ProtoHTTPS, ProtoTLS, ProtoMongo, ProtoRedis, ProtoMySQL:
		return true
	}
	return false
}

func isHTTPOrSniffed(p string) bool { return isHTTP(p) || p == ProtoAuto }

// listenerProtocol mirrors networking.ModelProtocolToListenerProtocol.
func listenerProtocol(p string) string {
	switch {
	case isHTTP(p):
		return ProtoHTTP
	case isTCP(p):
		return ProtoTCP
	case p == ProtoAuto:
		return ProtoAuto
	}
	return "" // UDP and unknown: no listener
}
