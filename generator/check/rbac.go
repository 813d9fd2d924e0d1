package check

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
)

// rbacChecks are the rbac family, in the order they run.
var rbacChecks = []Check{
	{ID: "rbac", Family: "rbac", Run: rbacObjects,
		Rationale: "the platform grants no Kubernetes API access; any RBAC object is new and must be reviewed",
		Upstream:  "Polaris RBAC checks (cluster-admin, pods/exec, pods/attach)"},
}

// rbacObjects: the platform grants no Kubernetes API access, so the RBAC
// checks of Polaris have nothing to check; an RBAC object appearing is a
// finding so that they are reviewed.
func rbacObjects(b *Build) []Finding {
	var out []Finding
	for _, o := range b.Objects {
		const grants = "the platform grants no Kubernetes API access; remove it, or review it (Polaris: no cluster-admin, no pods/exec or pods/attach) and add a deviation"
		switch x := o.(type) {
		case *rbacv1.Role, *rbacv1.ClusterRole:
			out = append(out, Finding{refOf(o), "an RBAC role in the build: " + grants})
		case *rbacv1.RoleBinding:
			out = append(out, Finding{refOf(o), fmt.Sprintf("binds %s/%s: %s", x.RoleRef.Kind, x.RoleRef.Name, grants)})
		case *rbacv1.ClusterRoleBinding:
			out = append(out, Finding{refOf(o), fmt.Sprintf("binds %s/%s cluster-wide: %s", x.RoleRef.Kind, x.RoleRef.Name, grants)})
		}
	}
	return out
}
