package explain

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// Query is what the user asked.
type Query struct {
	Source snapshot.PodKey
	// Destination is set for the matrix form (DST is a pod).
	Destination *snapshot.PodKey
	// Target is set for the URL form (DST is a URL or host:port).
	Target *TargetSpec
	// Ports restricts the matrix to these destination ports (numbers or names).
	Ports []string
	// Traffic overrides what the app sends: "" or "auto" (by port protocol), "http", "tcp".
	Traffic string
	// Method is the HTTP method the app sends ("" = GET).
	Method string
}

// TargetSpec is a parsed URL-form destination.
type TargetSpec struct {
	Raw    string
	Scheme string // http | https | tcp | grpc
	Host   string // hostname or IP as dialed, lower-case, without port
	Port   int32
	Path   string
	// HostHeader overrides the Host header (from --header 'Host: ...').
	HostHeader string
	// Headers are other request headers (for VirtualService header matches).
	Headers map[string]string
}

// UsageError is a problem with the user's input (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// IsTarget tells a URL / host:port DST from a pod reference: pod names and
// workload references never contain ':'.
func IsTarget(arg string) bool { return strings.Contains(arg, ":") }

// ParseTarget parses `http://10.1.2.3:8080/x`, `tcp://host:port`, `host:port`.
// A bare host:port is treated as TCP unless the port's protocol says HTTP
// (decided later, Traffic "auto"); http without a port means 80, https 443;
// tcp needs a port.
func ParseTarget(raw string, headers []string) (*TargetSpec, error) {
	t := &TargetSpec{Raw: raw, Headers: map[string]string{}}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, usageErrorf("invalid --header %q: want 'Name: value'", h)
		}
		value = strings.TrimSpace(value)
		if strings.EqualFold(name, "host") {
			t.HostHeader = value
			continue
		}
		t.Headers[strings.ToLower(name)] = value
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "auto://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, usageErrorf("invalid destination %q: %v", raw, unwrapURLError(err))
	}
	t.Scheme = strings.ToLower(u.Scheme)
	switch t.Scheme {
	case "http", "https", "tcp", "grpc", "auto":
	default:
		return nil, usageErrorf("invalid destination %q: unsupported scheme %q (use http, https, grpc or tcp)", raw, u.Scheme)
	}
	t.Host = strings.TrimSuffix(strings.ToLower(u.Hostname()), "")
	if t.Host == "" {
		return nil, usageErrorf("invalid destination %q: no host", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, usageErrorf("invalid destination %q: port %q is not a number in 1-65535", raw, p)
		}
		t.Port = int32(n)
	} else {
		switch t.Scheme {
		case "http":
			t.Port = 80
		case "https":
			t.Port = 443
		default:
			return nil, usageErrorf("invalid destination %q: a port is required for %s (e.g. %s:9092)", raw, t.Scheme, t.Host)
		}
	}
	if t.Scheme == "auto" && u.Path != "" {
		return nil, usageErrorf("invalid destination %q: a path needs a scheme (http://...)", raw)
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
