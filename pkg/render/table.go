package render

import (
	"bytes"
	"fmt"
	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"k8s.io/cli-runtime/pkg/printers"
)

const (
	// noteWidth is where why:/fix: lines wrap.
	noteWidth = 100
	dash      = "—"

	ansiGreen = "\x1b[32m"
	ansiRed   = "\x1b[31m"
	ansiReset = "\x1b[0m"
)

// Table writes the human-readable view of r: a SOURCE/DESTINATION block, then
// one table per destination port (matrix form) or a single table (URL form),
// with why:/fix: lines under each failing row. Warnings are not printed here:
// the command writes them to stderr.
func Table(w io.Writer, r *api.Reachability, opts Options) error {
	var out bytes.Buffer

	if err := writeHeaderBlock(&out, r, opts); err != nil {
		return err
	}

	for _, g := range groupRequests(r) {
		out.WriteString("\n")
		if g.title != "" {
			out.WriteString(esc(g.title) + "\n")
		}
		if len(g.requests) == 0 {
			out.WriteString("no address to examine on this port\n")
			continue
		}
		if err := writeRequests(&out, g.requests, opts); err != nil {
			return err
		}
	}
	if len(r.Requests) == 0 {
		out.WriteString("\nNo requests to examine: no destination port matched.\n")
	}
	if s := summaryLine(r); s != "" {
		out.WriteString("\n" + s + "\n")
	}
	_, err := w.Write(out.Bytes())
	return err
}

// writeHeaderBlock prints SOURCE, DESTINATION, TARGET (URL form) and, wide,
// MESH lines, aligned like kubectl columns.
func writeHeaderBlock(out *bytes.Buffer, r *api.Reachability, opts Options) error {
	rows := [][]string{workloadRow("SOURCE", r.Source, sourceNotes(r))}
	if r.Destination != nil {
		rows = append(rows, workloadRow("DESTINATION", *r.Destination, destinationNotes(*r.Destination)))
	}
	lines, err := renderRows(nil, rows, -1, nil)
	if err != nil {
		return err
	}
	for _, l := range lines {
		out.WriteString(l + "\n")
	}
	labelWidth := len("DESTINATION") + 3
	if t := r.Target; t != nil {
		line := t.URL
		if t.Host != "" {
			line += "   (Host: " + t.Host + ")"
		}
		fmt.Fprintf(out, "%-*s%s\n", labelWidth, "TARGET", esc(line))
	}
	if opts.Wide {
		fmt.Fprintf(out, "%-*s%s\n", labelWidth, "MESH", esc(meshLine(r.Mesh)))
	}
	return nil
}

func workloadRow(label string, wl api.Workload, notes []string) []string {
	dp := orDash(string(wl.Dataplane))
	if wl.IstioVersion != "" {
		dp += " (istio " + wl.IstioVersion + ")"
	}
	if wl.HostNetwork {
		dp += ", hostNetwork"
	}
	return []string{label, wl.Namespace + "/" + wl.Name, orDash(wl.IP), dp, strings.Join(notes, ", ")}
}

func sourceNotes(r *api.Reachability) []string {
	var notes []string
	policy := r.Source.OutboundTrafficPolicy
	if policy == "" && r.Source.Dataplane == "sidecar" {
		policy = r.Mesh.OutboundTrafficPolicy
	}
	if policy != "" {
		notes = append(notes, "outbound policy "+string(policy))
	}
	if r.Source.Sidecar != "" {
		notes = append(notes, "Sidecar "+r.Source.Sidecar)
	}
	if r.Source.DNSCapture {
		notes = append(notes, "DNS proxy on")
	}
	if r.Source.ChosenFrom != "" {
		notes = append(notes, "chosen from "+r.Source.ChosenFrom)
	}
	return notes
}

func destinationNotes(wl api.Workload) []string {
	var notes []string
	if pa := wl.PeerAuthentication; pa != "" {
		if wl.PeerAuthenticationRef != nil {
			pa = "PeerAuthentication " + pa
		}
		notes = append(notes, pa)
	}
	if len(wl.AuthorizationPolicies) > 0 {
		notes = append(notes, "AuthorizationPolicy "+strings.Join(wl.AuthorizationPolicies, ", "))
	}
	if wl.ChosenFrom != "" {
		notes = append(notes, "chosen from "+wl.ChosenFrom)
	}
	return notes
}

func meshLine(m api.Mesh) string {
	parts := []string{}
	if m.IstioVersion != "" {
		v := "istio " + m.IstioVersion + " assumed"
		if m.ControlPlane != "" {
			v += " (istiod " + m.ControlPlane + ", revision " + m.Revision + ")"
		}
		parts = append(parts, v)
	}
	if m.OutboundTrafficPolicy != "" {
		parts = append(parts, "outboundTrafficPolicy "+string(m.OutboundTrafficPolicy))
	}
	if m.RootNamespace != "" {
		parts = append(parts, "root namespace "+m.RootNamespace)
	}
	if m.ClusterDomain != "" {
		parts = append(parts, "cluster domain "+m.ClusterDomain)
	}
	if m.EnableAutoMtls {
		parts = append(parts, "auto mTLS on")
	} else {
		parts = append(parts, "auto mTLS off")
	}
	if m.ConfigMap != "" {
		parts = append(parts, "from ConfigMap "+m.ConfigMap)
	} else {
		parts = append(parts, "defaults (no istio ConfigMap read)")
	}
	return strings.Join(parts, ", ")
}

type group struct {
	title    string
	requests []api.Request
}

// groupRequests splits the matrix by destination port, in Report.Ports order;
// requests of no listed port come last under their own port title. The URL
// form (no Ports) is one untitled group.
func groupRequests(r *api.Reachability) []group {
	if len(r.Ports) == 0 {
		if len(r.Requests) == 0 {
			return nil
		}
		return []group{{requests: r.Requests}}
	}
	var groups []group
	index := map[int32]int{}
	for _, p := range r.Ports {
		if _, dup := index[p.Port]; dup {
			continue
		}
		index[p.Port] = len(groups)
		groups = append(groups, group{title: portTitle(p)})
	}
	for _, req := range r.Requests {
		i, ok := index[req.DestinationPort]
		if !ok {
			index[req.DestinationPort] = len(groups)
			i = len(groups)
			groups = append(groups, group{title: portTitle(api.PortSummary{Port: req.DestinationPort})})
		}
		groups[i].requests = append(groups[i].requests, req)
	}
	return groups
}

// portTitle: PORT 8080 "http" (Service demo/web port http → HTTP).
func portTitle(p api.PortSummary) string {
	if p.Port == 0 {
		return "PORT ?"
	}
	s := "PORT " + strconv.Itoa(int(p.Port))
	if p.Name != "" {
		s += " " + strconv.Quote(p.Name)
	}
	switch {
	case len(p.Sources) > 0 && p.Protocol != "":
		s += " (" + strings.Join(p.Sources, "; ") + " → " + string(p.Protocol) + ")"
	case len(p.Sources) > 0:
		s += " (" + strings.Join(p.Sources, "; ") + ")"
	case p.Protocol != "":
		s += " (" + string(p.Protocol) + ")"
	}
	return s
}

// writeRequests prints one table and the why:/fix: notes under failing rows.
func writeRequests(out *bytes.Buffer, reqs []api.Request, opts Options) error {
	// RESULT stays last so a long symptom does not push the wide columns away.
	header := []string{"ADDRESS", "REACHES", "BALANCING", "mTLS"}
	if opts.Wide {
		header = append(header, "LISTENER", "ROUTE", "CLUSTER", "INBOUND")
	}
	header = append(header, "RESULT")
	resultColumn := len(header) - 1
	rows := make([][]string, 0, len(reqs))
	for _, q := range reqs {
		row := []string{addressCell(q), orDash(q.Reaches), balancingCell(q), mtlsCell(q)}
		if opts.Wide {
			row = append(row, listenerCell(q), routeCell(q), clusterCell(q), inboundCell(q))
		}
		rows = append(rows, append(row, resultCell(q)))
	}
	var colors []string
	if opts.Color {
		colors = make([]string, len(reqs))
		for i, q := range reqs {
			colors[i] = resultColor(q)
		}
	}
	lines, err := renderRows(header, rows, resultColumn, colors)
	if err != nil {
		return err
	}
	if len(lines) != len(rows)+1 {
		// A cell broke into several lines; print the table as it is.
		for _, l := range lines {
			out.WriteString(l + "\n")
		}
		return nil
	}
	out.WriteString(lines[0] + "\n")
	for i, q := range reqs {
		out.WriteString(lines[i+1] + "\n")
		if q.Verdict != api.VerdictFails {
			continue
		}
		ns := notes(q)
		// Consecutive failing rows with the same why:/fix: share one copy,
		// printed under the last of them.
		if i+1 < len(reqs) && reqs[i+1].Verdict == api.VerdictFails && slices.Equal(ns, notes(reqs[i+1])) {
			continue
		}
		for _, n := range ns {
			out.WriteString(n + "\n")
		}
	}
	return nil
}

func addressCell(q api.Request) string { return addressWithHost(q, "  ") }

// addressWithHost is "address:port", then the Host header when the app
// sends one that differs from it.
func addressWithHost(q api.Request, sep string) string {
	hp := q.Address
	if q.Port != 0 {
		hp = net.JoinHostPort(q.Address, strconv.Itoa(int(q.Port)))
	}
	if q.Host != "" && q.Host != hp {
		hp += sep + "(Host: " + q.Host + ")"
	}
	return hp
}

func balancingCell(q api.Request) string {
	switch {
	case q.Balancing == "":
		return dash
	case q.Verdict == api.VerdictFails && (q.ReachesTarget == nil || q.ReachesTarget.Kind == api.ReachesNone):
		return dash
	case q.Balancing == api.BalancingNone && q.Verdict == api.VerdictReaches:
		return "none (pinned)"
	case q.Balancing == api.BalancingNone && q.Verdict == api.VerdictLoadBalanced:
		return "none (dialed IP)"
	}
	return string(q.Balancing)
}

func mtlsCell(q api.Request) string {
	switch q.TLS {
	case api.TLSMutual:
		return "yes"
	case api.TLSNone, "":
		return dash
	}
	return "no"
}

func resultCell(q api.Request) string {
	switch q.Verdict {
	case api.VerdictFails:
		if q.Symptom != "" {
			return "FAILS: " + q.Symptom
		}
		return "FAILS"
	case api.VerdictReaches:
		return "ok" + authzNote(q)
	case api.VerdictLoadBalanced:
		if q.Balancing == api.BalancingNone {
			return "ok — lands on whichever IP DNS returned" + authzNote(q)
		}
		return "ok" + authzNote(q)
	}
	return orDash(string(q.Verdict))
}

// authzNote qualifies an ok that the destination's authorization does not
// settle: a CUSTOM provider decides, or the policies were not read.
func authzNote(q api.Request) string {
	if q.Inbound == nil || q.Inbound.Authorization == nil {
		return ""
	}
	switch a := q.Inbound.Authorization; a.Decision {
	case api.AuthzCustom:
		if a.Provider == "" {
			return " if the request's JWT claims allow it (" + a.Policy + ")"
		}
		return fmt.Sprintf(" if ext_authz provider %q allows (%s)", a.Provider, a.Policy)
	case api.AuthzUnknown:
		return " (AuthorizationPolicies not read)"
	}
	return ""
}

func resultColor(q api.Request) string {
	switch q.Verdict {
	case api.VerdictFails:
		return ansiRed
	case api.VerdictReaches, api.VerdictLoadBalanced:
		return ansiGreen
	}
	return ""
}

// The wide columns and the why: lines are drawn from the request's steps,
// the one sequence the engine records (no second derivation).

// step is the last step of a stage, nil when the request did not get there.
func step(q api.Request, st api.Stage) *api.Step {
	for i := len(q.Steps) - 1; i >= 0; i-- {
		if q.Steps[i].Stage == st {
			return &q.Steps[i]
		}
	}
	return nil
}

func listenerCell(q api.Request) string {
	if s := step(q, api.StageListener); s != nil {
		return s.Name
	}
	if s := step(q, api.StageZtunnel); s != nil {
		return "ztunnel: " + s.Name // ambient: the source ztunnel's path
	}
	if c := step(q, api.StageCapture); c == nil || c.Name != "captured" {
		return "not captured"
	}
	return dash
}

func routeCell(q api.Request) string {
	if s := step(q, api.StageRoute); s != nil {
		return orDash(s.Name)
	}
	if s := step(q, api.StageWaypoint); s != nil {
		return s.Proxy + ": " + s.Name // ambient: the waypoint's route and cluster
	}
	return dash
}

func clusterCell(q api.Request) string {
	if s := step(q, api.StageCluster); s != nil && s.Name != "" {
		return s.Name
	}
	if s := step(q, api.StageRoute); s != nil && s.Reason != nil && s.Reason.Status != 0 {
		return fmt.Sprintf("direct response %d", s.Reason.Status)
	}
	if s := step(q, api.StageKubeProxy); s != nil && step(q, api.StageListener) == nil && s.Detail != "" {
		return "kube-proxy: " + s.Detail
	}
	return dash
}

func inboundCell(q api.Request) string {
	s := step(q, api.StageInbound)
	if s == nil {
		return dash
	}
	// The authorization step, when policies are in force (or unknown).
	if a := step(q, api.StageAuthz); a != nil && q.Inbound != nil && q.Inbound.Authorization != nil &&
		(len(q.Inbound.Authorization.Policies) > 0 || q.Inbound.Authorization.Decision != api.AuthzAllow) {
		return s.Name + ", authz " + a.Name
	}
	return s.Name
}

// notes are the why:/fix: lines under a failing row.
func notes(q api.Request) []string {
	var lines []string
	for _, s := range q.Steps {
		if s.Reason != nil {
			lines = append(lines, wrapNote("  why: ", s.Reason.Message)...)
		}
	}
	for _, f := range q.Fixes {
		lines = append(lines, wrapNote("  fix: ", f.Message+fixTag(f))...)
	}
	return lines
}

// fixTag says what a fix needs beyond its patch, and whether podreach
// could trace it.
func fixTag(f api.Fix) string {
	var req []string
	for _, r := range f.Requires {
		req = append(req, string(r))
	}
	switch {
	case !f.Verified && len(req) > 0:
		return " [not traced: requires " + strings.Join(req, ", ") + "]"
	case !f.Verified:
		return " [not traced]"
	case len(req) > 0:
		return " [requires " + strings.Join(req, ", ") + "]"
	}
	return ""
}

// wrapNote wraps msg at noteWidth columns, indenting continuation lines under
// the first word after the label.
func wrapNote(label, msg string) []string {
	indent := strings.Repeat(" ", len(label))
	var lines []string
	line := label
	empty := true
	for _, word := range strings.Fields(esc(msg)) {
		if !empty && runeLen(line)+1+runeLen(word) > noteWidth {
			lines = append(lines, line)
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	if !empty || len(lines) == 0 {
		lines = append(lines, strings.TrimRight(line, " "))
	}
	return lines
}

func summaryLine(r *api.Reachability) string {
	s := r.Summary
	switch {
	case s.Requests < 2:
		return ""
	case s.Failing == 0:
		return fmt.Sprintf("%d requests, all ok.", s.Requests)
	case s.Failing == 1:
		return fmt.Sprintf("%d requests: %d ok, 1 fails.", s.Requests, s.Reaching)
	}
	return fmt.Sprintf("%d requests: %d ok, %d fail.", s.Requests, s.Reaching, s.Failing)
}

// renderRows lays rows out kubectl-style: no borders or separators, columns
// left-aligned and three spaces apart, headers as given. Every cell is
// escaped; colors[i], if set, colours the cell of row i in column colorCol.
// It returns the lines without trailing blanks.
func renderRows(header []string, rows [][]string, colorCol int, colors []string) ([]string, error) {
	var buf bytes.Buffer
	pad := tw.CellPadding{Global: tw.Padding{Left: "", Right: "   ", Overwrite: true}}
	table := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{ShowHeader: tw.Off, ShowFooter: tw.Off, BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.Off, ShowFooterLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.Off, AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    pad,
			},
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    pad,
			},
			Behavior: tw.Behavior{TrimSpace: tw.Off},
		}),
	)
	if header != nil {
		table.Header(header)
	}
	for r, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = esc(c)
			if i == colorCol && r < len(colors) && colors[r] != "" {
				cells[i] = colors[r] + cells[i] + ansiReset
			}
		}
		if err := table.Append(cells); err != nil {
			return nil, fmt.Errorf("rendering the table: %w", err)
		}
	}
	if err := table.Render(); err != nil {
		return nil, fmt.Errorf("rendering the table: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		lines = append(lines, trimLine(l))
	}
	return lines, nil
}

// trimLine drops trailing blanks and the colour resets tablewriter appends
// after padding, keeping a single reset when the line is coloured.
func trimLine(l string) string {
	colored := strings.Contains(l, "\x1b[")
	for {
		t := strings.TrimSuffix(strings.TrimRight(l, " "), ansiReset)
		if t == l {
			break
		}
		l = t
	}
	if colored {
		l += ansiReset
	}
	return l
}

// esc neutralises terminal control characters coming from cluster data, as
// kubectl does (ESC → ^[, CR → \r, other C0 controls in caret notation), and
// keeps every cell on one line.
func esc(s string) string {
	s = printers.EscapeTerminal(s)
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteByte(' ')
		case r == 0x7f:
			b.WriteString("^?")
		case isControl(r):
			b.WriteByte('^')
			b.WriteRune(r + '@')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func orDash(s string) string {
	if s == "" {
		return dash
	}
	return s
}

func runeLen(s string) int { return len([]rune(s)) }
