package podref

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Port is one --port value: a port number, or a port name (a container
// port's or a Service port's) that only the destination pod can resolve.
type Port struct {
	Number int32  // 1-65535, or 0 for a name
	Name   string // an IANA service name, or "" for a number
}

// String is the value as --port accepts it.
func (p Port) String() string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// ParsePort reads a --port value: a number in 1-65535 or a port name as a
// Service or container port would be written.
func ParsePort(s string) (Port, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Port{}, invalidf("--port needs a number or a name")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 65535 {
			return Port{}, invalidf("invalid --port %s: not in 1-65535", s)
		}
		return Port{Number: int32(n)}, nil
	}
	if msgs := validation.IsValidPortName(s); len(msgs) > 0 {
		return Port{}, invalidf("invalid --port %q: not a port number or name (%s)", s, msgs[0])
	}
	return Port{Name: s}, nil
}
