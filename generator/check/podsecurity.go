package check

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// podSecurityChecks are the pod-security family, in the order they run.
var podSecurityChecks = []Check{
	{ID: "psa-restricted", Family: "pod-security", Run: psaRestricted,
		Rationale: "the namespaces enforce Pod Security Standards restricted: a pod that fails it is refused at admission",
		Upstream:  "Pod Security Standards restricted/latest"},
	{ID: "namespace-pod-security", Family: "pod-security", Run: namespacePodSecurity,
		Rationale: "one Namespace per environment enforcing restricted, holding every namespaced object, or admission does not guard them",
		Upstream:  "PSA namespace labels"},
	{ID: "run-as-non-root", Family: "pod-security", Run: runAsNonRoot,
		Rationale: "a process that escapes its container as root is root on the node",
		Upstream:  "kube-linter run-as-non-root; Polaris runAsRootAllowed"},
	{ID: "read-only-root-fs", Family: "pod-security", Run: readOnlyRootFS,
		Rationale: "an attacker cannot change the program; every writable path is an explicit volume",
		Upstream:  "kube-linter no-read-only-root-fs; Polaris notReadOnlyRootFilesystem"},
	{ID: "privilege", Family: "pod-security", Run: privilege,
		Rationale: "privileged containers, privilege escalation and host processes are root on the node",
		Upstream:  "kube-linter privilege-escalation-container, privileged-container; Polaris privilegeEscalationAllowed, runAsPrivileged, procMount, hostProcess"},
	{ID: "capabilities", Family: "pod-security", Run: capabilities,
		Rationale: "every capability dropped (NET_RAW included) and none added: the kernel surface a pod needs is none",
		Upstream:  "kube-linter drop-net-raw-capability; Polaris dangerousCapabilities, insecureCapabilities"},
	{ID: "seccomp", Family: "pod-security", Run: seccomp,
		Rationale: "the runtime default seccomp profile blocks the system calls container escapes use",
		Upstream:  "Polaris linuxHardening"},
	{ID: "host-access", Family: "pod-security", Run: hostAccess,
		Rationale: "a pod sees only its own network, processes, IPC and files, never the node's",
		Upstream:  "kube-linter host-network, host-pid, host-ipc, ssh-port, docker-sock, sensitive-host-mounts; Polaris hostNetworkSet, hostPIDSet, hostIPCSet, hostPortSet, hostPathSet"},
	{ID: "unsafe-sysctls", Family: "pod-security", Run: unsafeSysctls,
		Rationale: "an unsafe sysctl changes the node's kernel for every pod on it",
		Upstream:  "kube-linter unsafe-sysctls"},
}

var psaEvaluator = func() psapolicy.Evaluator {
	e, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// psaRestricted: every pod template passes restricted, version latest.
func psaRestricted(b *Build) []Finding {
	var out []Finding
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, p := range b.Pods {
		meta, spec := p.Template.ObjectMeta, p.Template.Spec
		for _, r := range psaEvaluator.EvaluatePod(lv, &meta, &spec) {
			if !r.Allowed {
				out = append(out, Finding{p.ref(), fmt.Sprintf("restricted: %s (%s)", r.ForbiddenReason, r.ForbiddenDetail)})
			}
		}
	}
	return out
}

// namespacePodSecurity: one Namespace, enforcing restricted, holding
// every namespaced object.
func namespacePodSecurity(b *Build) []Finding {
	var out []Finding
	if len(b.Namespaces) != 1 {
		return []Finding{{"Namespace", fmt.Sprintf("want exactly one Namespace in the build, have %d", len(b.Namespaces))}}
	}
	ns := b.Namespaces[0]
	if got := ns.Labels[psaapi.EnforceLevelLabel]; got != string(psaapi.LevelRestricted) {
		out = append(out, Finding{refOf(ns), fmt.Sprintf("%s=%q, want restricted", psaapi.EnforceLevelLabel, got)})
	}
	if v, ok := ns.Labels[psaapi.EnforceVersionLabel]; ok && v != "latest" {
		out = append(out, Finding{refOf(ns), fmt.Sprintf("%s=%q, want latest", psaapi.EnforceVersionLabel, v)})
	}
	for _, o := range b.Objects {
		m := o.(metav1.Object)
		if _, isNS := o.(*corev1.Namespace); !isNS && m.GetNamespace() != ns.Name {
			if m.GetNamespace() == "" {
				out = append(out, Finding{refOf(o), fmt.Sprintf("a cluster-scoped object (or one without a namespace) in the build of an environment: every object belongs in namespace %q", ns.Name)})
			} else {
				out = append(out, Finding{refOf(o), fmt.Sprintf("namespace %q, want %q", m.GetNamespace(), ns.Name)})
			}
		}
	}
	return out
}

// runAsNonRoot is kube-linter's run-as-non-root: effective runAsUser
// > 0 or runAsNonRoot, and never group 0; plus runAsNonRoot must not be
// overridden to false.
func runAsNonRoot(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		psc := p.Template.Spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range containers(&p.Template.Spec) {
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			user, group, nonRoot := psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
			if sc.RunAsUser != nil {
				user = sc.RunAsUser
			}
			if sc.RunAsGroup != nil {
				group = sc.RunAsGroup
			}
			if sc.RunAsNonRoot != nil {
				nonRoot = sc.RunAsNonRoot
			}
			if group != nil && *group == 0 {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s runs as group 0", c.Name)})
			}
			if user != nil && *user == 0 {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s runs as user 0", c.Name)})
			}
			if nonRoot == nil || !*nonRoot {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s is not set to runAsNonRoot", c.Name)})
			}
		}
	}
	return out
}

func readOnlyRootFS(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s does not have a read-only root filesystem", c.Name)})
			}
		}
	}
	return out
}

// privilege: allowPrivilegeEscalation explicitly false, not
// privileged, default procMount, no Windows host process.
func privilege(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if w := p.Template.Spec.SecurityContext; w != nil && w.WindowsOptions != nil && w.WindowsOptions.HostProcess != nil && *w.WindowsOptions.HostProcess {
			out = append(out, Finding{p.ref(), "pod is a Windows host process"})
		}
		for _, c := range containers(&p.Template.Spec) {
			sc := c.SecurityContext
			if sc == nil {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no securityContext", c.Name)})
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s does not set allowPrivilegeEscalation: false", c.Name)})
			}
			if sc.Privileged != nil && *sc.Privileged {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s is privileged", c.Name)})
			}
			if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s procMount %s", c.Name, *sc.ProcMount)})
			}
			if sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s is a Windows host process", c.Name)})
			}
		}
	}
	return out
}

// capabilities: every container drops ALL and adds nothing (each added
// capability is a finding; NET_BIND_SERVICE of pgAdmin is an exception).
func capabilities(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			var caps corev1.Capabilities
			if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
				caps = *c.SecurityContext.Capabilities
			}
			dropsAll := false
			for _, d := range caps.Drop {
				if strings.EqualFold(string(d), "ALL") {
					dropsAll = true
				}
			}
			if !dropsAll {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s does not drop ALL capabilities (drops %v)", c.Name, caps.Drop)})
			}
			for _, a := range caps.Add {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s adds %s", c.Name, strings.ToUpper(string(a)))})
			}
		}
	}
	return out
}

// seccomp: RuntimeDefault (or Localhost) seccomp on the pod or every
// container, never Unconfined.
func seccomp(b *Build) []Finding {
	var out []Finding
	ok := func(s *corev1.SeccompProfile) bool {
		return s != nil && (s.Type == corev1.SeccompProfileTypeRuntimeDefault || s.Type == corev1.SeccompProfileTypeLocalhost)
	}
	for _, p := range b.Pods {
		var pod *corev1.SeccompProfile
		if p.Template.Spec.SecurityContext != nil {
			pod = p.Template.Spec.SecurityContext.SeccompProfile
		}
		for _, c := range containers(&p.Template.Spec) {
			var ctr *corev1.SeccompProfile
			if c.SecurityContext != nil {
				ctr = c.SecurityContext.SeccompProfile
			}
			if (ctr != nil && !ok(ctr)) || (ctr == nil && !ok(pod)) {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no RuntimeDefault/Localhost seccomp profile", c.Name)})
			}
		}
	}
	return out
}

// hostAccess: no host namespaces, host ports, port 22 or hostPath
// volumes at all (stricter than kube-linter's sensitive directories).
func hostAccess(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		s := p.Template.Spec
		for what, on := range map[string]bool{"hostNetwork": s.HostNetwork, "hostPID": s.HostPID, "hostIPC": s.HostIPC} {
			if on {
				out = append(out, Finding{p.ref(), what + " is set"})
			}
		}
		for _, v := range s.Volumes {
			if v.HostPath != nil {
				out = append(out, Finding{p.ref(), fmt.Sprintf("volume %s mounts host path %s", v.Name, v.HostPath.Path)})
			}
		}
		for _, c := range containers(&s) {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s sets hostPort %d", c.Name, cp.HostPort)})
				}
				if cp.ContainerPort == 22 && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s exposes port 22 (SSH)", c.Name)})
				}
			}
		}
	}
	return out
}

// kube-linter unsafe-sysctls' default prefixes.
var unsafeSysctlPrefixes = []string{"kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.", "net."}

func unsafeSysctls(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Template.Spec.SecurityContext == nil {
			continue
		}
		for _, sc := range p.Template.Spec.SecurityContext.Sysctls {
			for _, pre := range unsafeSysctlPrefixes {
				if strings.HasPrefix(sc.Name, pre) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("unsafe sysctl %s", sc.Name)})
				}
			}
		}
	}
	return out
}
