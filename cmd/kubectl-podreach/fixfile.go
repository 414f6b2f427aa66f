package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	api "github.com/podreach/kubectl-podreach/pkg/api/v1alpha1"
)

// writeFixFiles writes every proven fix that changes an object as one
// manifest per distinct change, named KIND.NAMESPACE.NAME.HASH.yaml (the
// hash is of the change, so a second run writes the same files):
//   - a new object (patch.create) is the object itself: kubectl apply -f FILE;
//   - a change of an existing object is its JSON merge patch as YAML:
//     kubectl patch KIND NAME -n NS --type merge --patch-file FILE.
//
// Each file starts with comments naming the requests it fixes, what else
// the fix needs (a restart) and the command that applies it. Fixes are
// alternatives: apply the one you choose, not the whole directory. Fixes
// that only change the caller (another address to dial) have no manifest.
// It returns how many files it wrote.
func writeFixFiles(dir string, reports []*api.Reachability) (int, error) {
	type file struct {
		patch    *api.Patch
		requires []api.FixRequirement
		message  string
		requests []string
		together []string // the other files of the same fix
	}
	files := map[string]*file{}
	for _, rep := range reports {
		src := rep.Source.Namespace + "/" + rep.Source.Name
		for _, q := range rep.Requests {
			for _, fx := range q.Fixes {
				if fx.Patch == nil || !fx.Verified {
					continue
				}
				patches := append([]api.Patch{*fx.Patch}, fx.Also...)
				var group []string
				for i := range patches {
					group = append(group, fixFileName(&patches[i]))
				}
				for i := range patches {
					p, name := &patches[i], group[i]
					f := files[name]
					if f == nil {
						f = &file{patch: p, requires: fx.Requires, message: fx.Message}
						for _, other := range group {
							if other != name {
								f.together = append(f.together, other)
							}
						}
						files[name] = f
					}
					f.requests = append(f.requests, fmt.Sprintf("%s → %s:%d (%s)", src, q.Address, q.Port, fx.For))
				}
			}
		}
	}
	if len(files) == 0 {
		return 0, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, usageErr(fmt.Sprintf("--fix-file %s: %v", dir, err))
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := files[n]
		body, err := yaml.JSONToYAML(f.patch.MergePatch)
		if err != nil {
			return 0, fmt.Errorf("--fix-file: %s: %w", n, err)
		}
		var b strings.Builder
		b.WriteString("# podreach fix: " + oneLine(f.message) + "\n")
		for _, r := range f.requests {
			b.WriteString("# fixes: " + r + "\n")
		}
		for _, o := range f.together {
			b.WriteString("# together with: " + o + " (the fix needs both)\n")
		}
		for _, r := range f.requires {
			b.WriteString("# requires: " + string(r) + "\n")
		}
		path := filepath.Join(dir, n)
		if f.patch.Create {
			b.WriteString("# apply: kubectl apply -f " + path + "\n")
		} else {
			cmd := "kubectl patch " + strings.ToLower(f.patch.Kind) + " " + f.patch.Name
			if f.patch.Namespace != "" {
				cmd += " -n " + f.patch.Namespace
			}
			b.WriteString("# apply: " + cmd + " --type merge --patch-file " + path + "\n")
		}
		b.Write(body)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return 0, usageErr(fmt.Sprintf("--fix-file %s: %v", dir, err))
		}
	}
	return len(names), nil
}

// fixFileName is KIND.NAMESPACE.NAME.HASH.yaml, the hash of the change.
func fixFileName(p *api.Patch) string {
	sum := sha256.Sum256(append([]byte(fmt.Sprintf("%s|%s|%s|%s|%t|", p.APIVersion, p.Kind, p.Namespace, p.Name, p.Create)), p.MergePatch...))
	name := strings.ToLower(p.Kind) + "."
	if p.Namespace != "" {
		name += p.Namespace + "."
	}
	return name + p.Name + "." + hex.EncodeToString(sum[:4]) + ".yaml"
}
