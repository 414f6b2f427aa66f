package podref

import (
	"reflect"
	"testing"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

func TestParseTarget(t *testing.T) {
	cases := []struct {
		in     string
		scheme string
		host   string
		port   int32
		path   string
		errHas string
	}{
		{in: "http://10.1.2.3:8080/x", scheme: "http", host: "10.1.2.3", port: 8080, path: "/x"},
		{in: "http://api/", scheme: "http", host: "api", port: 80, path: "/"},
		{in: "https://API.demo", scheme: "https", host: "api.demo", port: 443, path: "/"},
		{in: "http://[::1]:80/a?b=c", scheme: "http", host: "::1", port: 80, path: "/a?b=c"},
		{in: "tcp://10.1.2.3:7000", scheme: "tcp", host: "10.1.2.3", port: 7000, path: "/"},
		{in: "web-0.web.demo.svc.cluster.local:9092", scheme: "auto", host: "web-0.web.demo.svc.cluster.local", port: 9092, path: "/"},
		{in: "tcp://10.1.2.3", errHas: `invalid destination "tcp://10.1.2.3": a port is required for tcp (e.g. 10.1.2.3:9092)`},
		{in: "ftp://x:21", errHas: `unsupported scheme "ftp"`},
		{in: "http://x:99999/", errHas: `port "99999" is not a number in 1-65535`},
		{in: "web:80/x", errHas: "a path needs a scheme"},
		{in: "http://:80/", errHas: "no host"},
	}
	for _, c := range cases {
		tg, err := ParseTarget(c.in, nil)
		if c.errHas != "" {
			assertError(t, err, Invalid, c.errHas)
			continue
		}
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", c.in, err)
			continue
		}
		if tg.Raw != c.in || tg.Scheme != c.scheme || tg.Host != c.host || tg.Port != c.port || tg.Path != c.path {
			t.Errorf("ParseTarget(%q) = %+v", c.in, tg)
		}
	}
}

func TestParseTargetHeaders(t *testing.T) {
	tg, err := ParseTarget("http://10.1.2.3:8080/", []string{"Host: web.demo", "X-Version:  v2 ", "x-version: v3"})
	if err != nil {
		t.Fatal(err)
	}
	if tg.HostHeader != "web.demo" || !reflect.DeepEqual(tg.Headers, map[string]string{"x-version": "v3"}) {
		t.Errorf("host %q headers %v", tg.HostHeader, tg.Headers)
	}
	for _, bad := range []string{"no colon", ": value", ""} {
		_, err := ParseTarget("http://x/", []string{bad})
		assertError(t, err, Invalid, "invalid --header")
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]Port{"8080": {Number: 8080}, " 1 ": {Number: 1}, "http-web": {Name: "http-web"}} {
		got, err := ParsePort(in)
		if err != nil || got != want {
			t.Errorf("ParsePort(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != want.String() {
			t.Errorf("String() = %q", got.String())
		}
	}
	for in, has := range map[string]string{
		"70000":      "invalid --port 70000: not in 1-65535",
		"0":          "invalid --port 0: not in 1-65535",
		"Not_A_Port": `invalid --port "Not_A_Port": not a port number or name`,
		"":           "--port needs a number or a name",
	} {
		_, err := ParsePort(in)
		assertError(t, err, Invalid, has)
	}
}

func TestParseTraffic(t *testing.T) {
	for in, want := range map[string]api.Traffic{"auto": "", "": "", "http": api.TrafficHTTP, "tcp": api.TrafficTCP} {
		if got, err := ParseTraffic(in); err != nil || got != want {
			t.Errorf("ParseTraffic(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ParseTraffic("udp")
	assertError(t, err, Invalid, `invalid --traffic "udp": allowed values are auto, http, tcp`)
}
