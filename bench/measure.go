package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/podreach/kubectl-podreach/test/e2e/harness"
)

// sample is one whole-process run.
type sample struct {
	wall  time.Duration
	rssKB int64 // peak resident set (getrusage ru_maxrss of the child)
	// floorKB is the bench's own resident set when it started the child.
	// Go starts children with vfork (CLONE_VM), and Linux carries the
	// address space's high-water mark into the child's ru_maxrss at exec:
	// a child's figure is exact only above this floor.
	floorKB int64
	stdout  []byte
	stderr  string
}

// stdoutCap is how much of a command's output runOnce keeps: kubectl get
// pods -A -o json prints ~100 MB at 10 000 pods, which held in the bench
// would raise the floor of every later sample.
const stdoutCap = 4 << 20

// cappedBuffer keeps the first stdoutCap bytes and counts the rest. (Not
// an embedded bytes.Buffer: its ReadFrom would let io.Copy bypass Write.)
type cappedBuffer struct {
	buf bytes.Buffer
	n   int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if room := stdoutCap - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// selfRSSKB is the bench's resident set (VmRSS of /proc/self/status).
func selfRSSKB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// runOnce runs a command to completion and measures it. Exit codes other
// than those in okCodes are errors.
func runOnce(ctx context.Context, okCodes []int, name string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout cappedBuffer
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	debug.FreeOSMemory() // the floor as low as it goes
	floor := selfRSSKB()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	s := sample{wall: wall, floorKB: floor, stdout: stdout.buf.Bytes(), stderr: stderr.String()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKB = ru.Maxrss
		}
	}
	if err != nil {
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		if !slices.Contains(okCodes, code) {
			return s, fmt.Errorf("%s %v: exit %d: %v\n%s", filepath.Base(name), args, code, err, tail(stderr.String(), 2000))
		}
	}
	if stdout.n == 0 {
		return s, fmt.Errorf("%s %v: no output\n%s", filepath.Base(name), args, tail(stderr.String(), 2000))
	}
	return s, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stats of repeated runs.
type stats struct {
	Runs        int     `json:"runs"`
	MedianMS    float64 `json:"medianMs"`
	MinMS       float64 `json:"minMs"`
	MaxMS       float64 `json:"maxMs"`
	PeakRSSMB   float64 `json:"peakRssMB"`   // max over the runs
	MedianRSSMB float64 `json:"medianRssMB"` // median over the runs
	// FloorMB is the bench's largest resident set when it started one of
	// the runs: a peak RSS at or below it is an upper bound (see sample).
	FloorMB float64 `json:"floorMB"`
}

func summarize(ss []sample) stats {
	var walls []float64
	var rss []float64
	var floor int64
	for _, s := range ss {
		walls = append(walls, float64(s.wall.Microseconds())/1000)
		rss = append(rss, float64(s.rssKB)/1024)
		floor = max(floor, s.floorKB)
	}
	slices.Sort(walls)
	slices.Sort(rss)
	return stats{Runs: len(ss), MedianMS: median(walls), MinMS: walls[0], MaxMS: walls[len(walls)-1],
		PeakRSSMB: rss[len(rss)-1], MedianRSSMB: median(rss), FloorMB: float64(floor) / 1024}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

var requestCountRE = regexp.MustCompile(`(?m)^I podreach: (\d+) API requests$`)

// selfReportedRequests reads podreach's own -v=4 count.
func selfReportedRequests(stderr string) int {
	m := requestCountRE.FindStringSubmatch(stderr)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// countingProxy is an HTTPS reverse proxy in front of the API server that
// records every request and the bytes of every response as they cross the
// wire (bodies as sent, i.e. gzip-compressed when the API server compressed
// them; headers and TLS framing not included). It authenticates upstream
// with the client certificate of one user, so RBAC applies as without it.
type countingProxy struct {
	URL string
	srv *http.Server

	mu  sync.Mutex
	log []requestRecord
}

type requestRecord struct {
	Method      string `json:"method"`
	URI         string `json:"uri"`
	Status      int    `json:"status"`
	Bytes       int64  `json:"bytes"`
	ContentType string `json:"contentType"`
	Encoding    string `json:"encoding,omitempty"`
}

func startCountingProxy(c *harness.Cluster, upstream *rest.Config) (*countingProxy, error) {
	target, err := url.Parse(c.Server())
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(upstream)
	if err != nil {
		return nil, err
	}
	p := &countingProxy{}
	rp := &httputil.ReverseProxy{
		Transport:     transport,
		FlushInterval: -1,
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			rec := requestRecord{Method: resp.Request.Method, URI: resp.Request.URL.RequestURI(), Status: resp.StatusCode,
				ContentType: resp.Header.Get("Content-Type"), Encoding: resp.Header.Get("Content-Encoding")}
			resp.Body = &countingBody{ReadCloser: resp.Body, done: func(n int64) {
				rec.Bytes = n
				p.mu.Lock()
				p.log = append(p.log, rec)
				p.mu.Unlock()
			}}
			return nil
		},
	}
	serving, err := tls.LoadX509KeyPair(filepath.Join(c.Dir(), "pki", "serving.crt"), filepath.Join(c.Dir(), "pki", "serving.key"))
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "https://" + l.Addr().String()
	p.srv = &http.Server{Handler: rp, TLSConfig: &tls.Config{Certificates: []tls.Certificate{serving}}}
	go p.srv.ServeTLS(l, "", "")
	return p, nil
}

func (p *countingProxy) reset() []requestRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log
	p.log = nil
	return out
}

func (p *countingProxy) Close() error { return p.srv.Close() }

type countingBody struct {
	io.ReadCloser
	n    int64
	once sync.Once
	done func(int64)
}

func (b *countingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.n) })
	return err
}
