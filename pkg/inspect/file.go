package inspect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/podreach/kubectl-podreach/pkg/podref"
	"github.com/podreach/kubectl-podreach/pkg/snapshot"
)

// stdinName names standard input among the -f inputs, as kubectl does.
const stdinName = "STDIN"

// FileReader reads a Snapshot from YAML or JSON (-f): files, directories
// (their *.yaml, *.yml and *.json, not recursive, in name order) or "-" for
// stdin. It keeps every object of the kinds podreach uses, in every
// namespace, and ignores the other kinds, so a `kubectl get -A -o yaml` dump
// is valid input.
type FileReader struct {
	paths []string
	stdin io.Reader

	// The input is read once: stdin cannot be read twice.
	once  sync.Once
	world *world
	err   error
}

var _ Reader = (*FileReader)(nil)

// NewFileReader returns a reader of paths; "-" reads stdin.
func NewFileReader(paths []string, stdin io.Reader) *FileReader {
	return &FileReader{paths: paths, stdin: stdin}
}

// Read loads the input (once) and resolves the request's pods in it.
func (r *FileReader) Read(_ context.Context, req Request) (*Result, error) {
	r.once.Do(func() { r.world, r.err = r.load() })
	if r.err != nil {
		return nil, r.err
	}
	return r.world.result(req, "file "+strings.Join(r.names(), ", "))
}

// result resolves req against the loaded objects.
func (w *world) result(req Request, origin string) (*Result, error) {
	s := w.snap // normalized by load; shared, so only Unread is rebuilt here
	s.Unread = slices.Clone(s.Unread)
	s.Origin = origin
	if req.Scrape == nil {
		// As the live reader: the monitors are read for --scrape only.
		s.PodMonitors, s.ServiceMonitors = nil, nil
	}
	res := &Result{Snapshot: &s}
	var src corev1.Pod
	if set := req.set(); set != nil {
		var err error
		if res.Members, res.Left, err = resolveSet(set, &s, s.Pods); err != nil {
			return nil, err
		}
	}
	if req.Peers != nil {
		// The peers' control plane decides the mesh config (the first
		// peer's revision stands for all of them).
		src = *podByKey(s.Pods, res.Members[0])
	} else {
		srcRef, err := resolveRef(req.Source, s.Namespaces, s.Pods)
		if err != nil {
			return nil, err
		}
		var chosen string
		if src, chosen, err = podref.Pick(srcRef, s.Pods); err != nil {
			return nil, err
		}
		res.Source = snapshot.PodKey{Namespace: src.Namespace, Name: src.Name, ChosenFrom: chosen}
	}
	if req.Destination != nil {
		dstRef, err := resolveRef(*req.Destination, s.Namespaces, s.Pods)
		if err != nil {
			return nil, err
		}
		dst, err := pickKey(dstRef, s.Pods)
		if err != nil {
			return nil, err
		}
		res.Destination = &dst
	} else if ip := targetIP(req.TargetHost); ip != "" {
		p, err := podref.OwnerOfIP(s.Pods, ip)
		if err != nil {
			return nil, err
		}
		if p != nil {
			res.Destination = &snapshot.PodKey{Namespace: p.Namespace, Name: p.Name}
		}
	}

	var dstPod *corev1.Pod
	if res.Destination != nil {
		for i := range s.Pods {
			if s.Pods[i].Namespace == res.Destination.Namespace && s.Pods[i].Name == res.Destination.Name {
				dstPod = &s.Pods[i]
			}
		}
	}
	s.ControlPlane = controlPlanePods(s.Pods, controlPlaneNamespaces(meshNamespace, &src, dstPod))
	if ambientSelected(s.Namespaces, s.Pods) {
		s.Ztunnels = ztunnelPods(s.Pods, meshNamespace)
	}

	names := meshConfigMapNames(&src)
	var u *snapshot.Unread
	s.Mesh, u = meshFrom(findConfigMap(w.configMaps, names), meshNamespace, names)
	if u != nil {
		s.Unread = append(s.Unread, *u)
	}
	sortUnread(&s)
	return res, nil
}

// findConfigMap looks for the mesh ConfigMap names in order, each in
// istio-system first, then in the first other namespace that has it: unlike
// the live reader, the file may hold the control plane anywhere.
func findConfigMap(cms []corev1.ConfigMap, names []string) *corev1.ConfigMap {
	for _, name := range names {
		var elsewhere *corev1.ConfigMap
		for i := range cms {
			cm := &cms[i]
			if cm.Name != name {
				continue
			}
			if cm.Namespace == meshNamespace {
				return cm
			}
			if elsewhere == nil || cm.Namespace < elsewhere.Namespace {
				elsewhere = cm
			}
		}
		if elsewhere != nil {
			return elsewhere
		}
	}
	return nil
}

// names are the inputs as messages name them.
func (r *FileReader) names() []string {
	out := make([]string, len(r.paths))
	for i, p := range r.paths {
		out[i] = p
		if p == "-" {
			out[i] = stdinName
		}
	}
	return out
}

// load reads every input into a world.
func (r *FileReader) load() (*world, error) {
	w := &world{}
	for _, path := range r.paths {
		files, err := r.expand(path)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := w.addFile(f.name, f.data); err != nil {
				return nil, err
			}
		}
	}
	if w.objects == 0 {
		return nil, &Error{Kind: Malformed, Inputs: r.names(), Err: ErrNoObjects}
	}
	w.addMirroredSlices()
	normalize(&w.snap)
	return w, nil
}

type inputFile struct {
	name string
	data []byte
}

// expand reads one -f argument: stdin, a file, or a directory's files.
func (r *FileReader) expand(path string) ([]inputFile, error) {
	if path == "-" {
		if r.stdin == nil {
			return nil, nil
		}
		data, err := io.ReadAll(r.stdin)
		if err != nil {
			return nil, &Error{Kind: Unreadable, Inputs: []string{stdinName}, Err: err}
		}
		return []inputFile{{stdinName, data}}, nil
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Kind: NotFound, Inputs: []string{path}, Err: err}
	}
	if err != nil {
		return nil, &Error{Kind: Unreadable, Inputs: []string{path}, Err: err}
	}
	paths := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path) // sorted by name
		if err != nil {
			return nil, &Error{Kind: Unreadable, Inputs: []string{path}, Err: err}
		}
		paths = nil
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					paths = append(paths, filepath.Join(path, e.Name()))
				}
			}
		}
	}
	var files []inputFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, &Error{Kind: Unreadable, Inputs: []string{p}, Err: err}
		}
		files = append(files, inputFile{p, data})
	}
	return files, nil
}

// addFile adds every document of one file. Errors name the file and the
// 1-based document number (documents are separated by "---" lines; in a
// JSON stream each top-level value is one).
func (w *world) addFile(name string, data []byte) error {
	docs, err := splitDocuments(data)
	for i, doc := range docs {
		if doc == nil {
			continue
		}
		if err := w.addDocument(doc); err != nil {
			return &Error{Kind: Malformed, Inputs: []string{name}, Document: i + 1, Err: err}
		}
	}
	if err != nil {
		return &Error{Kind: Malformed, Inputs: []string{name}, Document: len(docs) + 1, Err: err}
	}
	return nil
}

// splitDocuments returns the documents of a YAML or JSON stream as JSON,
// nil for documents that are empty or only comments. On a syntax error it
// returns the documents before the bad one and the error.
func splitDocuments(data []byte) ([][]byte, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return splitJSON(data)
	}
	var docs [][]byte
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			// Worded as kubectl words it ("error parsing x.yaml: error converting ...").
			return docs, fmt.Errorf("error converting YAML to JSON: %w", err)
		}
		if isEmptyJSON(js) {
			js = nil
		}
		docs = append(docs, js)
	}
}

func splitJSON(data []byte) ([][]byte, error) {
	var docs [][]byte
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if isEmptyJSON(raw) {
			raw = nil
		}
		docs = append(docs, raw)
	}
}

func isEmptyJSON(js []byte) bool {
	t := bytes.TrimSpace(js)
	return len(t) == 0 || string(t) == "null"
}
