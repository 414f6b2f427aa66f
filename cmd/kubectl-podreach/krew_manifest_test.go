package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path"
	"strings"
	"testing"
	"text/template"

	"sigs.k8s.io/yaml"
)

// plugins/krew.yaml is a krew-release-bot template (Go text/template with
// .TagName and addURIAndSha). Render it as the bot would, with made-up sums,
// and check the manifest Krew gets: every platform of the release, the right
// bin, a LICENSE extracted, the RBAC in the caveats. test/krew/run.sh checks
// the rendering of hack/release.sh with Krew's own validator.
func TestKrewTemplate(t *testing.T) {
	raw, err := os.ReadFile("../../plugins/krew.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tag := "v1.2.3"
	tmpl, err := template.New("krew").Funcs(template.FuncMap{
		"addURIAndSha": func(url, tag string) string {
			// The bot renders nested {{ .TagName }} in the URL first.
			url = strings.ReplaceAll(url, "{{ .TagName }}", tag)
			return fmt.Sprintf("uri: %s\n    sha256: %x", url, sha256.Sum256([]byte(url)))
		},
	}).Parse(string(raw))
	if err != nil {
		t.Fatalf("not a valid template for krew-release-bot: %v", err)
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, map[string]string{"TagName": tag}); err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version          string
			Homepage         string
			ShortDescription string `json:"shortDescription"`
			Description      string
			Caveats          string
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				}
				URI    string
				Sha256 string
				Bin    string
				Files  []struct{ From, To string }
			}
		}
	}
	if err := yaml.UnmarshalStrict([]byte(out.String()), &m); err != nil {
		t.Fatalf("rendered manifest: %v\n%s", err, out.String())
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "podreach" {
		t.Errorf("apiVersion/kind/name = %s/%s/%s", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if m.Spec.Version != tag {
		t.Errorf("version = %q", m.Spec.Version)
	}
	if d := m.Spec.ShortDescription; d == "" || strings.Contains(d, "\n") || len(d) > 80 {
		t.Errorf("shortDescription must be one short line: %q", d)
	}
	for _, want := range []string{"get and list", "pods", "services", "namespaces", "configmaps",
		"endpointslices.discovery.k8s.io", "destinationrules", "virtualservices", "serviceentries",
		"sidecars", "networking.istio.io", "peerauthentications", "security.istio.io"} {
		if !strings.Contains(m.Spec.Caveats, want) {
			t.Errorf("caveats lack %q", want)
		}
	}
	want := map[string]bool{"linux/amd64": true, "linux/arm64": true, "darwin/amd64": true, "darwin/arm64": true, "windows/amd64": true}
	for _, p := range m.Spec.Platforms {
		os, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		if !want[os+"/"+arch] {
			t.Errorf("unexpected or repeated platform %s/%s", os, arch)
		}
		delete(want, os+"/"+arch)
		bin, ext := "kubectl-podreach", ".tar.gz"
		if os == "windows" {
			bin, ext = "kubectl-podreach.exe", ".zip"
		}
		archive := fmt.Sprintf("kubectl-podreach_%s_%s_%s%s", tag, os, arch, ext)
		if p.URI != "https://github.com/podreach/kubectl-podreach/releases/download/"+tag+"/"+archive || path.Base(p.URI) != archive {
			t.Errorf("%s/%s: uri %q", os, arch, p.URI)
		}
		if len(p.Sha256) != 64 {
			t.Errorf("%s/%s: sha256 %q", os, arch, p.Sha256)
		}
		if p.Bin != bin {
			t.Errorf("%s/%s: bin %q, want %q", os, arch, p.Bin, bin)
		}
		var license, binary bool
		for _, f := range p.Files {
			license = license || f.From == "LICENSE"
			binary = binary || f.From == bin
		}
		if !license || !binary {
			t.Errorf("%s/%s: files %v must extract %s and LICENSE", os, arch, p.Files, bin)
		}
	}
	for p := range want {
		t.Errorf("platform %s missing", p)
	}
}
