package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const noGatewaysUser = "no-gateways@example.com" // the README's role without its Gateway rule

// TestForbiddenGateways: a user who may read everything of the README's role
// but the Gateways gets the ambient answer with a warning naming the kind,
// and every request that could go through a waypoint says waypointUnknown
// instead of a silent "no waypoint".
func TestForbiddenGateways(t *testing.T) {
	c := shared(t)
	role := readmeRole(t)
	ctx := context.Background()
	rbac := c.AdminClient().RbacV1()
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: role.Name + "-no-gateways"}}
	for _, r := range role.Rules {
		if !slices.Contains(r.APIGroups, "gateway.networking.k8s.io") {
			cr.Rules = append(cr.Rules, r)
		}
	}
	if len(cr.Rules) == len(role.Rules) {
		t.Fatal("the README role has no rule for gateway.networking.k8s.io")
	}
	if _, err := rbac.ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	b := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + cr.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: cr.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: noGatewaysUser}},
	}
	if _, err := rbac.ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	w, objs := loadWorld(t, "ambient-waypoint-bypass")
	applyUntilCleanup(t, c, objs)
	r := podreach(t, append(slices.Clone(w.Args), "--kubeconfig", c.Kubeconfig(noGatewaysUser), "-o", "json")...)
	if r.code > 1 {
		t.Fatalf("exit %d\n%s", r.code, r)
	}
	if !strings.Contains(r.stderr, "Warning: could not read gateways.gateway.networking.k8s.io (") {
		t.Errorf("no warning naming the Gateways\n%s", r)
	}
	var rep struct {
		Requests []struct {
			Address string `json:"address"`
			Form    string `json:"form"`
			Ambient *struct {
				Path            string `json:"path"`
				Waypoint        string `json:"waypoint"`
				WaypointUnknown bool   `json:"waypointUnknown"`
			} `json:"ambient"`
		} `json:"requests"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	for _, q := range rep.Requests {
		if q.Ambient == nil {
			t.Errorf("%s: no ambient block", q.Address)
			continue
		}
		if q.Ambient.Waypoint != "" {
			t.Errorf("%s: waypoint %q without reading the Gateways", q.Address, q.Ambient.Waypoint)
		}
		if q.Form != "pod-ip" && !q.Ambient.WaypointUnknown {
			t.Errorf("%s (%s): waypointUnknown is false: a silent \"no waypoint\"", q.Address, q.Form)
		}
	}
}
