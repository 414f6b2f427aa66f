package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// diffTitles head each group of a --diff table.
var diffTitles = map[api.DiffChange]string{
	api.DiffBreaks:  "BREAKS: reached before, fail with the overlay",
	api.DiffFixes:   "FIXES: failed before, reach with the overlay",
	api.DiffChanges: "CHANGES: another verdict, TLS, reason or symptom on the same side",
	api.DiffAdded:   "ADDED: requests only examined with the overlay",
	api.DiffRemoved: "REMOVED: requests no longer examined with the overlay",
}

// PrintDiff writes a --diff report: a table (table and wide), json or yaml.
func PrintDiff(w io.Writer, d *api.ReachabilityDiff, format string, opts Options) error {
	switch format {
	case FormatJSON:
		return encodeJSON(w, d)
	case FormatYAML:
		b, err := yaml.Marshal(d)
		if err != nil {
			return fmt.Errorf("encoding the diff as YAML: %w", err)
		}
		_, err = w.Write(b)
		return err
	case FormatTable, FormatWide, "":
		return DiffTable(w, d, opts)
	}
	return fmt.Errorf("unknown output format %q for --diff (allowed: table, json, yaml)", format)
}

// DiffTable prints the changed requests grouped by change, each group with
// its count, one row per request (SOURCE, DESTINATION, ADDRESS, BEFORE,
// AFTER) and, under a row that fails after, the reason codes it fails with.
func DiffTable(w io.Writer, d *api.ReachabilityDiff, opts Options) error {
	var out bytes.Buffer
	if len(d.With) > 0 {
		out.WriteString("WITH   " + esc(strings.Join(d.With, ", ")) + "\n\n")
	}
	if len(d.Items) == 0 {
		fmt.Fprintf(&out, "No request changes (%d compared).\n", d.Summary.Compared)
		_, err := w.Write(out.Bytes())
		return err
	}
	for _, c := range api.DiffChangeValues {
		var items []api.DiffItem
		for _, it := range d.Items {
			if it.Change == c {
				items = append(items, it)
			}
		}
		if len(items) == 0 {
			continue
		}
		fmt.Fprintf(&out, "%s (%d)\n", diffTitles[c], len(items))
		header := []string{"SOURCE", "DESTINATION", "ADDRESS", "BEFORE", "AFTER"}
		rows := make([][]string, 0, len(items))
		colors := make([]string, len(items))
		for i, it := range items {
			addr := fmt.Sprintf("%s:%d", it.Address, it.Port)
			if it.Host != "" && it.Host != addr && it.Host+":80" != addr {
				addr += "  (Host: " + it.Host + ")"
			}
			rows = append(rows, []string{it.Source, orDash(it.Destination), addr, outcomeCell(it.Before), outcomeCell(it.After)})
			if opts.Color && it.After != nil {
				colors[i] = ansiGreen
				if it.After.Verdict == api.VerdictFails {
					colors[i] = ansiRed
				}
			}
		}
		lines, err := renderRows(header, rows, 4, colors)
		if err != nil {
			return err
		}
		out.WriteString(lines[0] + "\n")
		for i, it := range items {
			if i+1 < len(lines) {
				out.WriteString(lines[i+1] + "\n")
			}
			if o := it.Before; o != nil && o.Verdict == api.VerdictFails && it.Change != api.DiffFixes {
				for _, l := range wrapNote("  before: ", outcomeWhy(o)) {
					out.WriteString(l + "\n")
				}
			}
			if o := it.After; o != nil && o.Verdict == api.VerdictFails {
				for _, l := range wrapNote("  after:  ", outcomeWhy(o)) {
					out.WriteString(l + "\n")
				}
			}
		}
		out.WriteString("\n")
	}
	s := d.Summary
	fmt.Fprintf(&out, "%d of %d requests change: %d break, %d fixed.\n", s.Changed, s.Compared, s.Breaks, s.Fixes)
	_, err := w.Write(out.Bytes())
	return err
}

func outcomeCell(o *api.Outcome) string {
	if o == nil {
		return "—"
	}
	tls := string(o.TLS)
	if o.Verdict == api.VerdictFails {
		return "FAILS (" + tls + ")"
	}
	return "ok (" + tls + ")"
}

func outcomeWhy(o *api.Outcome) string {
	codes := make([]string, len(o.Reasons))
	for i, c := range o.Reasons {
		codes[i] = string(c)
	}
	s := strings.Join(codes, ", ")
	if o.Symptom != "" {
		s += " — " + o.Symptom
	}
	return s
}

func encodeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding as JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
