// Package harness runs a real API server for end-to-end tests and benchmarks:
// etcd (Debian's etcd-server) and kube-apiserver (built from the Go module
// proxy by ../build-apiserver.sh, cached) on loopback, with client-certificate
// authentication, RBAC authorization and a service-account signing key.
//
// There is no controller manager, scheduler or kubelet: objects are stored as
// they are written. Pods get their status through the status subresource
// (Apply does it), EndpointSlices are written by the caller as the
// EndpointSlice controller would, and namespaces are finalized by
// DeleteApplied itself (no namespace controller).
//
//	c := harness.Start(t)                       // or Launch(ctx, Options{}) outside tests
//	objs, _ := harness.LoadYAMLFile("world.yaml")
//	c.Apply(ctx, objs)
//	kubeconfig := c.Kubeconfig("alice", "dev") // a client cert for user alice, group dev
//
// Set PODREACH_E2E=0 to skip the tests that use it; otherwise a harness that
// cannot start fails the test. PODREACH_KUBE_APISERVER and PODREACH_ETCD name
// the binaries; without them the build script and PATH (/usr/bin/etcd) are used.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubernetesVersion is the kube-apiserver the build script builds.
const KubernetesVersion = "v1.35.4"

// AdminUser is the user of AdminKubeconfig (group system:masters).
const AdminUser = "e2e-admin"

// Options configure Launch.
type Options struct {
	// IstioCRDs installs Istio's CustomResourceDefinitions from the istio.io/api
	// module the root go.mod requires. Start sets it unless WithoutIstioCRDs.
	IstioCRDs bool
	// AuditLog writes an audit log (Metadata level, every user except the
	// API server's own) that AuditEvents reads.
	AuditLog bool
	// ExtraAPIServerFlags are appended to kube-apiserver's command line.
	ExtraAPIServerFlags []string
	// Log receives progress lines (t.Logf in Start); nil discards them.
	Log func(format string, args ...any)
}

// Option changes Start's Options.
type Option func(*Options)

// WithoutIstioCRDs starts a cluster with no Istio CRDs.
func WithoutIstioCRDs() Option { return func(o *Options) { o.IstioCRDs = false } }

// WithAuditLog enables the audit log (see AuditEvents).
func WithAuditLog() Option { return func(o *Options) { o.AuditLog = true } }

// Cluster is a running etcd + kube-apiserver.
type Cluster struct {
	dir    string
	server string // https://127.0.0.1:PORT
	ca     *ca
	opts   Options

	etcd, apiserver *process

	admin   *rest.Config
	kube    kubernetes.Interface
	dynamic dynamic.Interface

	mu          sync.Mutex
	kubeconfigs map[string]string
	applied     []objectRef
	mapper      *lazyMapper

	stopOnce sync.Once
}

// Enabled reports whether end-to-end tests should run: unless PODREACH_E2E=0.
func Enabled() bool { return os.Getenv("PODREACH_E2E") != "0" }

// Start launches a cluster with Istio's CRDs for a test and stops it at the
// end of the test. With PODREACH_E2E=0 it skips the test; any other failure
// to start fails it.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	SkipIfDisabled(t)
	o := Options{IstioCRDs: true, Log: t.Logf}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Launch(ctx, o)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// SkipIfDisabled skips the test when PODREACH_E2E=0, and only then.
func SkipIfDisabled(t testing.TB) {
	t.Helper()
	if !Enabled() {
		t.Skip("PODREACH_E2E=0: end-to-end tests against a real API server are disabled")
	}
}

// Launch starts etcd and kube-apiserver in a new temporary directory and
// waits until the API server is ready (and the Istio CRDs established, if
// asked). The caller must Stop the cluster.
func Launch(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	start := time.Now()
	// A cold build takes minutes: not bounded by the start-up deadline.
	buildCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
	defer cancel()
	apiserverBin, err := APIServerBinary(buildCtx)
	if err != nil {
		return nil, err
	}
	etcdBin, err := EtcdBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tmpBase(), "podreach-e2e-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir, opts: o, kubeconfigs: map[string]string{}}
	cl := c // the named result is nil once an error is returned
	defer func() {
		if err != nil {
			cl.Stop()
		}
	}()

	if err := c.writePKI(); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	c.etcd, err = startProcess(dir, "etcd", etcdBin,
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=e2e="+peerURL,
		"--initial-cluster-state=new",
		"--logger=zap", "--log-level=warn",
		"--quota-backend-bytes=8589934592",
	)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, etcdURL+"/health", nil, c.etcd); err != nil {
		return nil, fmt.Errorf("etcd did not become healthy: %w%s", err, c.etcd.tail())
	}

	c.server = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	pki := filepath.Join(dir, "pki")
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[2]),
		"--cert-dir=" + pki,
		"--tls-cert-file=" + filepath.Join(pki, "serving.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "serving.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		// Holds the example worlds' ClusterIPs (10.96.x.y).
		"--service-cluster-ip-range=10.96.0.0/12",
		// No controller manager: nothing would reconcile these.
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--profiling=false",
		"--enable-priority-and-fairness=false",
		"--max-requests-inflight=2000",
		"--max-mutating-requests-inflight=1000",
		"--v=1",
	}
	if o.AuditLog {
		policy := filepath.Join(dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--audit-policy-file="+policy, "--audit-log-path="+c.auditLogPath(),
			"--audit-log-mode=blocking", "--audit-log-format=json")
	}
	args = append(args, o.ExtraAPIServerFlags...)
	c.apiserver, err = startProcess(dir, "kube-apiserver", apiserverBin, args...)
	if err != nil {
		return nil, err
	}

	c.admin, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig(AdminUser, "system:masters"))
	if err != nil {
		return nil, err
	}
	c.admin.QPS, c.admin.Burst = 1000, 2000
	c.admin.UserAgent = "podreach-e2e-harness"
	if c.kube, err = kubernetes.NewForConfig(c.admin); err != nil {
		return nil, err
	}
	if c.dynamic, err = dynamic.NewForConfig(c.admin); err != nil {
		return nil, err
	}
	c.mapper = newLazyMapper(c.kube.Discovery())

	tlsCfg, err := rest.TLSConfigFor(c.admin)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c.server+"/readyz", &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}, c.apiserver); err != nil {
		return nil, fmt.Errorf("kube-apiserver did not become ready: %w%s", err, c.apiserver.tail())
	}
	// The bootstrap controller creates the default namespace shortly after /readyz.
	if err := poll(ctx, func() (bool, error) {
		_, err := c.kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceDefault, metav1.GetOptions{})
		return err == nil, ignoreNotFound(err)
	}); err != nil {
		return nil, fmt.Errorf("namespace default never appeared: %w", err)
	}
	o.Log("harness: kube-apiserver %s ready at %s in %v", KubernetesVersion, c.server, time.Since(start).Round(time.Millisecond))

	if o.IstioCRDs {
		t0 := time.Now()
		n, err := c.InstallIstioCRDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("istio CRDs: %w", err)
		}
		o.Log("harness: %d Istio CRDs established in %v", n, time.Since(t0).Round(time.Millisecond))
	}
	return c, nil
}

// Stop kills kube-apiserver and etcd and removes the temporary directory.
// Set PODREACH_E2E_KEEP=1 to keep the directory (logs, certificates).
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		if c.apiserver != nil {
			c.apiserver.stop()
		}
		if c.etcd != nil {
			c.etcd.stop()
		}
		if os.Getenv("PODREACH_E2E_KEEP") == "" {
			os.RemoveAll(c.dir)
		}
	})
}

// Server is the API server URL (https://127.0.0.1:PORT).
func (c *Cluster) Server() string { return c.server }

// Dir is the cluster's temporary directory (certificates, logs, kubeconfigs).
func (c *Cluster) Dir() string { return c.dir }

// CACertPEM is the PEM CA certificate that signs the serving and client certificates.
func (c *Cluster) CACertPEM() []byte { return c.ca.certPEM }

// AdminConfig is a rest.Config of the admin user (system:masters). Copy it before changing it.
func (c *Cluster) AdminConfig() *rest.Config { return rest.CopyConfig(c.admin) }

// AdminClient is a clientset of the admin user.
func (c *Cluster) AdminClient() kubernetes.Interface { return c.kube }

// DynamicClient is a dynamic client of the admin user.
func (c *Cluster) DynamicClient() dynamic.Interface { return c.dynamic }

// AdminKubeconfig is the kubeconfig file of the admin user.
func (c *Cluster) AdminKubeconfig() string { return c.Kubeconfig(AdminUser, "system:masters") }

// APIServerLog is the tail of kube-apiserver's output, for failure messages.
func (c *Cluster) APIServerLog() string { return c.apiserver.tail() }

// Kubeconfig returns (writing it on first use) a kubeconfig file for a user
// authenticated by a client certificate with CN=user and O=groups. Its
// context is named "e2e" and its namespace is "default".
func (c *Cluster) Kubeconfig(user string, groups ...string) string {
	return c.KubeconfigFor(User{Name: user, Groups: groups})
}

// User describes the client certificate of a kubeconfig.
type User struct {
	Name   string
	Groups []string
	// Expired issues a certificate that expired an hour ago.
	Expired bool
	// UnknownCA signs the certificate with a CA the API server does not trust.
	UnknownCA bool
	// Server overrides the server URL (a proxy, an unreachable address).
	Server string
	// WrongServerCA makes the client trust another CA than the one that
	// signed the API server's certificate.
	WrongServerCA bool
}

// KubeconfigFor returns a kubeconfig file for u (written once per distinct User).
func (c *Cluster) KubeconfigFor(u User) string {
	key := fmt.Sprintf("%s|%s|%v|%v|%s|%v", u.Name, strings.Join(u.Groups, ","), u.Expired, u.UnknownCA, u.Server, u.WrongServerCA)
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.kubeconfigs[key]; ok {
		return p
	}
	spec := certSpec{cn: u.Name, orgs: u.Groups}
	if u.Expired {
		spec.notBefore = time.Now().Add(-48 * time.Hour)
		spec.notAfter = time.Now().Add(-time.Hour)
	}
	signer := c.ca
	if u.UnknownCA {
		other, err := newCA("not-the-cluster-ca")
		if err != nil {
			panic(err)
		}
		signer = other
	}
	certPEM, keyPEM, err := signer.issue(spec)
	if err != nil {
		panic(fmt.Sprintf("harness: issue certificate for %q: %v", u.Name, err))
	}
	server := c.server
	if u.Server != "" {
		server = u.Server
	}
	caData := c.ca.certPEM
	if u.WrongServerCA {
		other, err := newCA("podreach-e2e-ca") // same name, other key
		if err != nil {
			panic(err)
		}
		caData = other.certPEM
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	cfg.AuthInfos[u.Name] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: u.Name, Namespace: "default"}
	cfg.CurrentContext = "e2e"
	p := filepath.Join(c.dir, "kubeconfigs", fmt.Sprintf("%s-%d.yaml", sanitize(u.Name), len(c.kubeconfigs)))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		panic(err)
	}
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		panic(fmt.Sprintf("harness: write kubeconfig: %v", err))
	}
	c.kubeconfigs[key] = p
	return p
}

// UserConfig is a rest.Config for a user authenticated by a client certificate.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", c.Kubeconfig(user, groups...))
}

func (c *Cluster) writePKI() error {
	pki := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	var err error
	if c.ca, err = newCA("podreach-e2e-ca"); err != nil {
		return err
	}
	crt, key, err := c.ca.issue(certSpec{cn: "kube-apiserver", server: true,
		ips: []net.IP{net.ParseIP("127.0.0.1")}, dns: []string{"localhost"}})
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"ca.crt": c.ca.certPEM, "serving.crt": crt, "serving.key": key} {
		if err := os.WriteFile(filepath.Join(pki, name), data, 0o600); err != nil {
			return err
		}
	}
	return writeServiceAccountKey(filepath.Join(pki, "sa.key"))
}

// APIServerBinary returns $PODREACH_KUBE_APISERVER, else the binary that
// test/e2e/build-apiserver.sh caches (building it first: ~6 minutes cold).
func APIServerBinary(ctx context.Context) (string, error) {
	if p := os.Getenv("PODREACH_KUBE_APISERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PODREACH_KUBE_APISERVER: %w", err)
		}
		return p, nil
	}
	script := filepath.Join(e2eDir(), "build-apiserver.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %v\n%s", script, err, lastLines(stderr.String(), 30))
	}
	return strings.TrimSpace(lastLines(stdout.String(), 1)), nil
}

// EtcdBinary returns $PODREACH_ETCD, else etcd on PATH or /usr/bin/etcd
// (test/e2e/install-etcd.sh installs Debian's etcd-server).
func EtcdBinary() (string, error) {
	if p := os.Getenv("PODREACH_ETCD"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return "", errors.New("etcd not found: run test/e2e/install-etcd.sh (apt-get install etcd-server) or set PODREACH_ETCD")
}

// e2eDir is the test/e2e directory of this source tree.
func e2eDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// RootDir is the repository root (the kubectl-podreach module).
func RootDir() string { return filepath.Dir(filepath.Dir(e2eDir())) }

// tmpBase prefers a RAM-backed directory: etcd 3.4 fsyncs every write.
func tmpBase() string {
	if d := os.Getenv("PODREACH_E2E_TMP"); d != "" {
		return d
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && syscall.Access("/dev/shm", 2) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitHTTP polls url until it answers 200, the process exits or ctx ends.
func waitHTTP(ctx context.Context, url string, client *http.Client, p *process) error {
	if client == nil {
		client = &http.Client{}
	}
	client.Timeout = 2 * time.Second
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body := make([]byte, 512)
			n, _ := resp.Body.Read(body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %d %s", url, resp.StatusCode, body[:n])
		} else {
			last = err.Error()
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%s)", p.name, p.waitErr())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %s)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func poll(ctx context.Context, f func() (bool, error)) error {
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// auditPolicy logs every request at Metadata level, except the API server's
// own loopback requests (user system:apiserver).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:apiserver"]
- level: Metadata
`
