package explain

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestNoProseParsing keeps the layers talking through codes and typed
// fields: no code outside the one that renders a message may inspect its
// text (strings.Contains/Fields/ReplaceAll/… on a reason's Message, an
// error's text, a symptom, a step's name or detail, or Reaches), and
// render never compares the display string Reaches. Rewording a message
// must never change what a fix, a verdict or a table says.
func TestNoProseParsing(t *testing.T) {
	inspect := regexp.MustCompile(`strings\.(Contains|ContainsAny|EqualFold|Fields|ReplaceAll|Replace|HasPrefix|HasSuffix|Index|LastIndex|Cut|Split|SplitN|TrimPrefix|TrimSuffix)\([^;{]*(\.Message\b|\.Error\(\)|\.Error\b|\.Symptom\b|\.Reaches\b|\.Detail\b|\.DNS\b|\.KubeProxy\b|[Rr]eason\b|\bmsg\b|\bmessage\b|\.source\b|\.Source\b)`)
	compare := regexp.MustCompile(`\.(Reaches|Message|Symptom|Detail)\s*[!=]=\s*"[^"]`)
	// Splitting a text into words to wrap its lines is layout, not inspection.
	layout := regexp.MustCompile(`strings\.Fields\(esc\(`)
	var offenders []string
	for _, dir := range []string{"../../pkg", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			// Where messages are rendered and laid out: reasons.go builds
			// them from fields; render's wrappers break lines between words.
			if strings.HasSuffix(path, "explain/reasons.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(b), "\n") {
				code, _, _ := strings.Cut(line, "//")
				if (inspect.MatchString(code) && !layout.MatchString(code)) || compare.MatchString(code) {
					offenders = append(offenders, path+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(offenders) > 0 {
		t.Errorf("prose parsed outside the code that renders it (key on codes and typed fields instead):\n  %s", strings.Join(offenders, "\n  "))
	}
}
