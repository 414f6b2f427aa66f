package harness

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"

	"k8s.io/client-go/rest"
)

// ProxyHooks let a test act between the client and the API server.
type ProxyHooks struct {
	// Before runs before a request is forwarded (it may sleep: a slow link).
	Before func(r *http.Request)
	// After runs once the API server answered, before the client gets the
	// answer: what it changes in the cluster happens "between" this request
	// and the client's next one.
	After func(r *http.Request, status int)
}

// Proxy is an HTTPS reverse proxy in front of the API server. It checks the
// client certificate against the cluster CA and forwards as the admin,
// impersonating the certificate's user (CN) and groups (O), so RBAC applies
// as without it.
type Proxy struct {
	URL string
	srv *http.Server
	c   *Cluster
}

// StartProxy starts a Proxy on a free loopback port; Stop the cluster or the
// proxy to end it.
func (c *Cluster) StartProxy(h ProxyHooks) (*Proxy, error) {
	target, err := url.Parse(c.server)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(c.admin)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Del("Authorization")
			if tls := pr.In.TLS; tls != nil && len(tls.PeerCertificates) > 0 {
				cert := tls.PeerCertificates[0]
				if cert.Subject.CommonName != AdminUser {
					pr.Out.Header.Set("Impersonate-User", cert.Subject.CommonName)
					for _, g := range cert.Subject.Organization {
						pr.Out.Header.Add("Impersonate-Group", g)
					}
				}
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			if h.After != nil {
				h.After(resp.Request, resp.StatusCode)
			}
			return nil
		},
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.cert)
	serving, err := tls.LoadX509KeyPair(filepath.Join(c.dir, "pki", "serving.crt"), filepath.Join(c.dir, "pki", "serving.key"))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: fmt.Sprintf("https://%s", l.Addr()), c: c}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h.Before != nil {
				h.Before(r)
			}
			rp.ServeHTTP(w, r)
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
		},
	}
	go p.srv.ServeTLS(l, "", "")
	return p, nil
}

// Kubeconfig is a kubeconfig for user (client certificate) through the proxy.
func (p *Proxy) Kubeconfig(user string, groups ...string) string {
	return p.c.KubeconfigFor(User{Name: user, Groups: groups, Server: p.URL})
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }
