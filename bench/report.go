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
		for _, name := range []string{"kubectl get pod", "podreach SRC DST", "podreach SRC URL", "podreach SRC DST (baseline)", "podreach SRC URL (baseline)", "istioctl analyze -n NS"} {
			t, ok := r.Timings[name]
			if !ok {
				continue
			}
			n, bytes := totals(r.Requests[name])
			reqs := fmt.Sprint(n)
			if self, ok := r.SelfReported[name]; ok && self != n {
				reqs += fmt.Sprintf(" (self-reported %d)", self)
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %.0f ms | %.0f–%.0f ms | %.2f× | %s | %s | %.1f KiB |\n",
				cluster, load, name, t.MedianMS, t.MinMS, t.MaxMS, t.MedianMS/base, rssText(t), reqs, float64(bytes)/1024)
			cluster, load = "", ""
		}
		fmt.Fprintf(&b, "| | | load average during the runs: %s | | | | | | |\n", r.LoadAverage)
	}
	b.WriteString(fleetTable(rs))
	b.WriteString("\nRequests of podreach (through the counting proxy):\n\n")
	for _, r := range rs {
		for _, name := range []string{"podreach SRC DST", "podreach SRC URL", "podreach SRC -n NS", "podreach --peers sts/NAME", "podreach SRC -A --port P"} {
			if _, ok := r.Requests[name]; !ok {
				continue
			}
			fmt.Fprintf(&b, "- %d pods, `%s`:\n", r.Pods, name)
			for _, q := range r.Requests[name] {
				fmt.Fprintf(&b, "  - `%s %s` %d, %d B (%s%s)\n", q.Method, q.URI, q.Status, q.Bytes, q.ContentType, map[bool]string{true: ", " + q.Encoding, false: ""}[q.Encoding != ""])
			}
		}
	}
	return b.String()
}

// fleetForms: each fleet form, what it is compared with, and the target
// ratio of issue 13.
var fleetForms = []struct{ name, base, target string }{
	{"podreach SRC -A --port P", "kubectl get pods -A", "≤ 1.2×"},
	{"podreach SRC -n NS", "podreach SRC DST", "≤ 1.5×"},
	{"podreach --peers sts/NAME", "podreach SRC DST", "≤ 2×"},
}

// fleetTable renders the fleet forms' ratios, or nothing when they were
// not measured.
func fleetTable(rs []*result) string {
	var b strings.Builder
	for _, r := range rs {
		if _, ok := r.Timings[fleetForms[1].name]; !ok {
			continue
		}
		fmt.Fprintf(&b, "\n### Fleet forms, %d pods (same interleaved rounds)\n\n", r.Pods)
		b.WriteString("| form | median wall | min–max | compared with | ratio | target | peak RSS | API requests | bytes received |\n")
		b.WriteString("|---|---:|---:|---|---:|---|---:|---:|---:|\n")
		for _, f := range fleetForms {
			t, base := r.Timings[f.name], r.Timings[f.base]
			if t.Runs == 0 {
				continue // the -A pair was skipped (-heavy-rounds 0)
			}
			n, bytes := totals(r.Requests[f.name])
			reqs := fmt.Sprint(n)
			if f.name == fleetForms[0].name {
				reqs += fmt.Sprintf(" (%d pod pages)", podPages(r.Requests[f.name]))
			}
			fmt.Fprintf(&b, "| `%s` | %.0f ms | %.0f–%.0f ms | `%s` %.0f ms | %.2f× | %s | %s | %s | %.1f KiB |\n",
				f.name, t.MedianMS, t.MinMS, t.MaxMS, f.base, base.MedianMS, t.MedianMS/base.MedianMS, f.target, rssText(t), reqs, float64(bytes)/1024)
		}
		t := r.Timings["kubectl get pods -A"]
		if t.Runs == 0 {
			continue
		}
		n, bytes := totals(r.Requests["kubectl get pods -A"])
		fmt.Fprintf(&b, "| `kubectl get pods -A -o json` | %.0f ms | %.0f–%.0f ms | | | | %s | %d | %.1f KiB |\n",
			t.MedianMS, t.MinMS, t.MaxMS, rssText(t), n, float64(bytes)/1024)
	}
	return b.String()
}

// podPages counts the cluster-wide pod list requests (one per page).
func podPages(recs []requestRecord) int {
	n := 0
	for _, q := range recs {
		if q.Method == "GET" && strings.HasPrefix(q.URI, "/api/v1/pods") {
			n++
		}
	}
	return n
}

// rssText is the peak RSS, marked "≤" when it does not exceed the bench's
// own resident set at the start of a run (then it is that floor, an upper
// bound: see sample.floorKB).
func rssText(t stats) string {
	if t.PeakRSSMB <= t.FloorMB+0.5 {
		return fmt.Sprintf("≤ %.1f MB", t.PeakRSSMB)
	}
	return fmt.Sprintf("%.1f MB", t.PeakRSSMB)
}
