package podref

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// Target is a DST given as a URL or host:port, as the application dials it.
type Target struct {
	Raw    string
	Scheme string // http | https | tcp | grpc | auto (host:port without a scheme)
	Host   string // hostname or IP as dialed, lower-case, without port
	Port   int32
	Path   string
	// HostHeader overrides the Host header (from --header 'Host: ...').
	HostHeader string
	// Headers are other request headers (for VirtualService header matches),
	// by lower-case name.
	Headers map[string]string
}

// IsTarget tells a URL / host:port DST from a pod reference: pod names and
// workload references never contain ':'.
func IsTarget(arg string) bool { return strings.Contains(arg, ":") }

// ParseTarget parses `http://10.1.2.3:8080/x`, `tcp://host:port`, `host:port`
// and the --header values that go with it (ParseHeader). A bare host:port
// is treated as TCP unless the port's protocol says HTTP (decided by the
// model, traffic auto); http without a port means 80, https 443; tcp needs a
// port. Errors are Invalid *Error values.
func ParseTarget(raw string, headers []string) (*Target, error) {
	t := &Target{Raw: raw, Headers: map[string]string{}}
	for _, h := range headers {
		hd, err := ParseHeader(h)
		if err != nil {
			return nil, err
		}
		t.SetHeader(hd)
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "auto://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, invalidf("invalid destination %q: %v", raw, unwrapURLError(err))
	}
	t.Scheme = strings.ToLower(u.Scheme)
	switch t.Scheme {
	case "http", "https", "tcp", "grpc", "auto":
	default:
		return nil, invalidf("invalid destination %q: unsupported scheme %q (use http, https, grpc or tcp)", raw, u.Scheme)
	}
	t.Host = strings.ToLower(u.Hostname())
	if t.Host == "" {
		return nil, invalidf("invalid destination %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, invalidf("invalid destination %q: port %q is not a number in 1-65535", raw, p)
		}
		t.Port = int32(n)
	} else {
		switch t.Scheme {
		case "http":
			t.Port = 80
		case "https":
			t.Port = 443
		default:
			return nil, invalidf("invalid destination %q: a port is required for %s (e.g. %s:9092)", raw, t.Scheme, t.Host)
		}
	}
	if t.Scheme == "auto" && u.Path != "" {
		return nil, invalidf("invalid destination %q: a path needs a scheme (http://...)", raw)
	}
	t.Path = u.EscapedPath()
	if u.RawQuery != "" {
		t.Path += "?" + u.RawQuery
	}
	if t.Path == "" {
		t.Path = "/"
	}
	if ip := net.ParseIP(t.Host); ip != nil {
		t.Host = ip.String()
	}
	return t, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// Header is one --header value.
type Header struct{ Name, Value string }

// ParseHeader reads 'Name: value'.
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Header{}, invalidf("invalid --header %q: want 'Name: value'", s)
	}
	return Header{Name: name, Value: strings.TrimSpace(value)}, nil
}

// SetHeader records a header the application sends: Host overrides the
// Host header, the others are kept by lower-case name.
func (t *Target) SetHeader(h Header) {
	if strings.EqualFold(h.Name, "host") {
		t.HostHeader = h.Value
		return
	}
	if t.Headers == nil {
		t.Headers = map[string]string{}
	}
	t.Headers[strings.ToLower(h.Name)] = h.Value
}

// TrafficValues are the --traffic values, default first.
var TrafficValues = []string{"auto", "http", "tcp"}

// ParseTraffic reads --traffic: what the application sends. auto (by the
// port's protocol) is the empty Traffic.
// ParseMethod validates --method: an HTTP method token (RFC 9110: letters,
// upper-cased as apps send them; GET when empty).
func ParseMethod(s string) (string, error) {
	if s == "" {
		return "GET", nil
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_') {
			return "", invalidf("invalid --method %q: want an HTTP method such as GET, HEAD, POST, PUT, DELETE", s)
		}
	}
	return strings.ToUpper(s), nil
}

func ParseTraffic(s string) (api.Traffic, error) {
	switch s {
	case "auto", "":
		return "", nil
	case string(api.TrafficHTTP):
		return api.TrafficHTTP, nil
	case string(api.TrafficTCP):
		return api.TrafficTCP, nil
	}
	return "", invalidf("invalid --traffic %q: allowed values are %s", s, strings.Join(TrafficValues, ", "))
}
