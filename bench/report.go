package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
)

func execOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).Output()
}

// table renders the results as the Markdown of docs/PERFORMANCE.md.
func table(c config, rs []*result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Results (%s, %d CPUs)\n\n", runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(&b, "| cluster | load | command | median wall | min–max | ratio to kubectl get pod | peak RSS | API requests | bytes received |\n")
	fmt.Fprintf(&b, "|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		base := r.Timings["kubectl get pod"].MedianMS
		cluster := fmt.Sprintf("%d pods, %d Services, %d ns, %d Istio objects", r.Pods, r.Services, r.Namespaces, r.IstioObjects)
		load := fmt.Sprintf("%.0f s (%d writes)", r.LoadSeconds, r.LoadWrites)
		for _, name := range []string{"kubectl get pod", "podreach SRC DST", "podreach SRC URL", "istioctl analyze -n NS"} {
			t, ok := r.Timings[name]
			if !ok {
				continue
			}
			n, bytes := totals(r.Requests[name])
			reqs := fmt.Sprint(n)
			if self, ok := r.SelfReported[name]; ok && self != n {
				reqs += fmt.Sprintf(" (self-reported %d)", self)
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %.0f ms | %.0f–%.0f ms | %.2f× | %.1f MB | %s | %.1f KiB |\n",
				cluster, load, name, t.MedianMS, t.MinMS, t.MaxMS, t.MedianMS/base, t.PeakRSSMB, reqs, float64(bytes)/1024)
			cluster, load = "", ""
		}
		fmt.Fprintf(&b, "| | | load average during the runs: %s | | | | | | |\n", r.LoadAverage)
	}
	b.WriteString("\nRequests of podreach (through the counting proxy):\n\n")
	for _, r := range rs {
		for _, name := range []string{"podreach SRC DST", "podreach SRC URL"} {
			fmt.Fprintf(&b, "- %d pods, `%s`:\n", r.Pods, name)
			for _, q := range r.Requests[name] {
				fmt.Fprintf(&b, "  - `%s %s` %d, %d B (%s%s)\n", q.Method, q.URI, q.Status, q.Bytes, q.ContentType, map[bool]string{true: ", " + q.Encoding, false: ""}[q.Encoding != ""])
			}
		}
	}
	return b.String()
}
