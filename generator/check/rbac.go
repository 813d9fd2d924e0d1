package check

import (
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
		switch o.(type) {
		case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
			out = append(out, Finding{refOf(o), "RBAC object: review it against Polaris' RBAC checks and extend this check"})
		}
	}
	return out
}
