// Package kubelet runs the pods of an environment's built manifests on the
// real programs their images hold, the way a kubelet and a container
// runtime would, on this machine: no images, no container runtime, no
// cluster. It is the harness of the run-time tests (docs/runtime.md).
//
// A Node takes the objects of one namespace (Deployments, StatefulSets,
// Jobs, CronJobs, ConfigMaps, unsealed Secrets, Services, claims) and an
// Images table that maps every image to a stand-in: the node's Debian
// root plus what the image adds (a virtualenv, OpenSearch's home, its
// configuration files, its ENTRYPOINT and CMD). Each container runs:
//   - in its own mount, PID, UTS and IPC namespaces, in its pod's network
//     namespace (one per workload, joined to a bridge in the node's own
//     namespace; IPv4 only, nothing routed out);
//   - on a read-only root filesystem, with only its declared volumes
//     writable: emptyDirs are tmpfs of their sizeLimit, claims are
//     directories that outlive pods, ConfigMaps and Secrets are written as
//     the kubelet's atomic writer does, read-only;
//   - as its runAsUser/runAsGroup with the fsGroup as supplementary group,
//     every capability dropped from its bounding set but those it adds,
//     no_new_privs when privilege escalation is off;
//   - with its command, args and env expanded as the kubelet expands them,
//     Service names resolving to the pod that backs them (/etc/hosts);
//   - with init containers first, postStart hooks alongside the process,
//     startup, liveness and readiness probes on their timings, and the
//     restart policy's back-off.
//
// What it does not do: it runs one pod per workload whatever the replica
// count, enforces no CPU or memory limit, applies no seccomp profile, and
// replaces a workload's pod by stopping it before starting the next.
//
// The node must run as root in a mount namespace of its own (it mounts
// tmpfs volumes); Main re-executes a test binary that way.
package kubelet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Options configure a Node.
type Options struct {
	Dir       string           // the node's directory: pods, logs, claims
	Namespace string           // of the objects
	Objects   []runtime.Object // the environment as built (typed objects)
	Secrets   []*corev1.Secret // the unsealed Secrets
	Images    Images
}

// Node runs the pods of one namespace.
type Node struct {
	dir, shm, namespace string
	images              Images
	net                 *network

	mu           sync.Mutex
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	claims       map[string]*corev1.PersistentVolumeClaim
	services     map[string]*corev1.Service
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	jobs         map[string]*batchv1.Job
	cronJobs     map[string]*batchv1.CronJob
	pods         map[string]*Pod // running, by slot
	templates    map[string]string
	seq          int
	client       *http.Client
	terminating  sync.WaitGroup // old pods of rolling updates, still stopping

	claimsMu    sync.Mutex
	provisioned map[string]bool // claims whose volume is made
	mounted     []string        // claim file systems to unmount at Close
}

// New makes a node for the objects. It must run as root in a private
// mount namespace (see Main).
func New(opt Options) (*Node, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("kubelet: the node must run as root")
	}
	if os.Getenv(privateEnv) == "" {
		return nil, errors.New("kubelet: the node must run in a mount namespace of its own: run the tests through kubelet.Main")
	}
	n := &Node{dir: opt.Dir, namespace: opt.Namespace, images: opt.Images, pods: map[string]*Pod{}, templates: map[string]string{}}
	if err := n.setObjects(opt.Objects, opt.Secrets); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(n.dir, "pods"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if n.shm, err = os.MkdirTemp("/dev/shm", "kubelet-"); err != nil {
		return nil, err
	}
	if n.net, err = newNetwork(); err != nil {
		return nil, err
	}
	n.client = &http.Client{Transport: &http.Transport{DialContext: n.Dial, DisableKeepAlives: true}}
	// Every workload's address is known before any pod starts: /etc/hosts
	// names them all.
	for _, s := range n.workloadSlots() {
		n.net.ip(s)
	}
	return n, nil
}

// setObjects indexes the objects of the namespace; other kinds are ignored.
func (n *Node) setObjects(objs []runtime.Object, secrets []*corev1.Secret) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.configMaps, n.secrets = map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}
	n.claims, n.services = map[string]*corev1.PersistentVolumeClaim{}, map[string]*corev1.Service{}
	n.deployments, n.statefulSets = map[string]*appsv1.Deployment{}, map[string]*appsv1.StatefulSet{}
	n.jobs, n.cronJobs = map[string]*batchv1.Job{}, map[string]*batchv1.CronJob{}
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.ConfigMap:
			n.configMaps[x.Name] = x
		case *corev1.Secret:
			n.secrets[x.Name] = x
		case *corev1.PersistentVolumeClaim:
			n.claims[x.Name] = x
		case *corev1.Service:
			n.services[x.Name] = x
		case *appsv1.Deployment:
			n.deployments[x.Name] = x
		case *appsv1.StatefulSet:
			n.statefulSets[x.Name] = x
			for _, vct := range x.Spec.VolumeClaimTemplates {
				name := fmt.Sprintf("%s-%s-0", vct.Name, x.Name)
				n.claims[name] = &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: vct.Spec}
			}
		case *batchv1.Job:
			n.jobs[x.Name] = x
		case *batchv1.CronJob:
			n.cronJobs[x.Name] = x
		}
	}
	for _, s := range secrets {
		n.secrets[s.Name] = s
	}
	for _, s := range n.services {
		for _, p := range s.Spec.Ports {
			if p.TargetPort.IntValue() != 0 && p.TargetPort.IntValue() != int(p.Port) {
				return fmt.Errorf("Service %s: port %d → targetPort %d: only Services whose ports equal their pods' are run here", s.Name, p.Port, p.TargetPort.IntValue())
			}
		}
	}
	return nil
}

// Update replaces the node's objects (a new revision of the environment)
// and returns the workloads whose pod template changed: the ones a
// rollout would replace. Running pods are left alone.
func (n *Node) Update(objs []runtime.Object, secrets []*corev1.Secret) ([]string, error) {
	if err := n.setObjects(objs, secrets); err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var changed []string
	for slot, p := range n.pods {
		spec, _, err := n.templateOf(slot)
		if err != nil {
			return nil, err
		}
		if hashOf(spec) != n.templates[slot] && p.Phase() == corev1.PodRunning {
			changed = append(changed, slot)
		}
	}
	sort.Strings(changed)
	return changed, nil
}

// workloadSlots are the node's long-running workloads, as "Kind/name".
func (n *Node) workloadSlots() []string {
	var out []string
	for name := range n.deployments {
		out = append(out, "Deployment/"+name)
	}
	for name := range n.statefulSets {
		out = append(out, "StatefulSet/"+name)
	}
	sort.Strings(out)
	return out
}

// templateOf returns the pod template of a workload slot.
func (n *Node) templateOf(slot string) (corev1.PodTemplateSpec, string, error) {
	kind, name, _ := strings.Cut(slot, "/")
	switch kind {
	case "Deployment":
		if d, ok := n.deployments[name]; ok {
			return d.Spec.Template, "", nil
		}
	case "StatefulSet":
		if s, ok := n.statefulSets[name]; ok {
			return s.Spec.Template, s.Spec.ServiceName, nil
		}
	}
	return corev1.PodTemplateSpec{}, "", fmt.Errorf("no workload %s", slot)
}

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:10]
}

// Start starts the one pod of a Deployment or StatefulSet ("Deployment/web-ui")
// if it is not running.
func (n *Node) Start(slot string) (*Pod, error) {
	n.mu.Lock()
	if p, ok := n.pods[slot]; ok {
		n.mu.Unlock()
		return p, nil
	}
	tpl, _, err := n.templateOf(slot)
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	kind, name, _ := strings.Cut(slot, "/")
	podName := name + "-0"
	if kind == "Deployment" {
		n.seq++
		podName = fmt.Sprintf("%s-%s-%05d", name, hashOf(tpl)[:8], n.seq)
	}
	n.templates[slot] = hashOf(tpl)
	spec := *tpl.Spec.DeepCopy()
	if kind == "StatefulSet" {
		// The StatefulSet controller gives its pod a volume per claim
		// template, bound to the claim <template>-<pod>.
		for _, vct := range n.statefulSets[name].Spec.VolumeClaimTemplates {
			spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vct.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: vct.Name + "-" + podName}}})
		}
	}
	n.mu.Unlock()
	p, err := n.newPod(podName, slot, tpl.Labels, spec)
	if err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.pods[slot] = p
	n.mu.Unlock()
	return p, nil
}

// Pod returns the running pod of a slot.
func (n *Node) Pod(slot string) (*Pod, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.pods[slot]
	return p, ok
}

// Replace starts the slot's pod again from the current template (a
// rollout). A Deployment rolled by RollingUpdate whose pods listen on no
// port gets its new pod at once while the old one terminates, as on a
// cluster; any other is stopped first (Recreate): here a workload's pods
// share one network namespace, where two cannot bind the same port.
func (n *Node) Replace(slot string) (*Pod, error) {
	n.mu.Lock()
	old, ok := n.pods[slot]
	delete(n.pods, slot)
	rolling := false
	if kind, name, _ := strings.Cut(slot, "/"); kind == "Deployment" && ok {
		if d, found := n.deployments[name]; found && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			rolling = !listens(d.Spec.Template.Spec)
		}
	}
	n.mu.Unlock()
	if ok && rolling {
		n.terminating.Add(1)
		go func() { defer n.terminating.Done(); old.Stop() }()
	} else if ok {
		old.Stop()
	}
	return n.Start(slot)
}

// listens reports whether any container of a pod declares a port.
func listens(spec corev1.PodSpec) bool {
	for _, c := range spec.Containers {
		if len(c.Ports) > 0 {
			return true
		}
	}
	return false
}

// Delete stops the slot's pod.
func (n *Node) Delete(slot string) {
	n.mu.Lock()
	old, ok := n.pods[slot]
	delete(n.pods, slot)
	n.mu.Unlock()
	if ok {
		old.Stop()
	}
}

// JobRun is the outcome of running a Job.
type JobRun struct {
	Pods      []*Pod // every attempt, the last one last
	Succeeded bool
	Reason    string
}

// RunJob runs a Job of the node to completion as the Job controller would:
// a new pod per attempt until one succeeds, backoffLimit failures, or the
// active deadline.
func (n *Node) RunJob(ctx context.Context, name string) (JobRun, error) {
	n.mu.Lock()
	j, ok := n.jobs[name]
	n.mu.Unlock()
	if !ok {
		return JobRun{}, fmt.Errorf("no Job %s", name)
	}
	return n.runJob(ctx, name, j.Spec, nil)
}

// RunJobWatched is RunJob with watch called, in a goroutine of its own, on
// each attempt's pod once it has started (a test that kills an attempt
// part-way, as an OOM kill would).
func (n *Node) RunJobWatched(ctx context.Context, name string, watch func(*Pod)) (JobRun, error) {
	n.mu.Lock()
	j, ok := n.jobs[name]
	n.mu.Unlock()
	if !ok {
		return JobRun{}, fmt.Errorf("no Job %s", name)
	}
	return n.runJob(ctx, name, j.Spec, watch)
}

// RunCronJob runs a Job made from a CronJob's template, as
// `kubectl create job --from=cronjob/<name>` does.
func (n *Node) RunCronJob(ctx context.Context, name string) (JobRun, error) {
	n.mu.Lock()
	cj, ok := n.cronJobs[name]
	n.mu.Unlock()
	if !ok {
		return JobRun{}, fmt.Errorf("no CronJob %s", name)
	}
	return n.runJob(ctx, name+"-manual", cj.Spec.JobTemplate.Spec, nil)
}

func (n *Node) runJob(ctx context.Context, name string, spec batchv1.JobSpec, watch func(*Pod)) (JobRun, error) {
	limit := int32(6)
	if spec.BackoffLimit != nil {
		limit = *spec.BackoffLimit
	}
	if spec.ActiveDeadlineSeconds != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*spec.ActiveDeadlineSeconds)*time.Second)
		defer cancel()
	}
	var run JobRun
	for failures := int32(0); ; {
		n.mu.Lock()
		n.seq++
		podName := fmt.Sprintf("%s-%05d", name, n.seq)
		n.mu.Unlock()
		p, err := n.newPod(podName, "Job/"+name, spec.Template.Labels, spec.Template.Spec)
		if err != nil {
			return run, err
		}
		run.Pods = append(run.Pods, p)
		if err := p.start(); err != nil {
			return run, err
		}
		if watch != nil {
			go watch(p)
		}
		select {
		case <-p.Done():
		case <-ctx.Done():
			p.Stop()
			run.Reason = "DeadlineExceeded"
			return run, nil
		}
		if p.Phase() == corev1.PodSucceeded {
			run.Succeeded = true
			return run, nil
		}
		failures++
		if failures > limit {
			run.Reason = fmt.Sprintf("BackoffLimitExceeded: %s", p.Reason())
			return run, nil
		}
		// The Job controller's back-off between attempts: 10 s doubling.
		select {
		case <-time.After(10 * time.Second << (failures - 1)):
		case <-ctx.Done():
			run.Reason = "DeadlineExceeded"
			return run, nil
		}
	}
}

// StartPod runs a pod that belongs to no workload of the namespace (the
// ingress controller's stand-in, a client): it gets its own address.
func (n *Node) StartPod(name string, labels map[string]string, spec corev1.PodSpec) (*Pod, error) {
	p, err := n.newPod(name, "Pod/"+name, labels, spec)
	if err != nil {
		return nil, err
	}
	return p, p.start()
}

// AddConfigMaps adds ConfigMaps (for pods started with StartPod).
func (n *Node) AddConfigMaps(cms ...*corev1.ConfigMap) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, cm := range cms {
		n.configMaps[cm.Name] = cm
	}
}

// Dir is the node's directory: pods/<pod>/{events.log,logs/,volumes/}, claims/.
func (n *Node) Dir() string { return n.dir }

// Dial connects from the node's network namespace (where the kubelet's
// probes come from) to a pod's address.
func (n *Node) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return dialIn(ctx, n.net.nsPath(n.net.nodeNS()), network, addr)
}

// HTTPClient talks HTTP from the node's network namespace.
func (n *Node) HTTPClient() *http.Client { return n.client }

// Listen opens a listener in the node's network namespace, reachable from
// every pod at the node's address (NodeIP).
func (n *Node) Listen(network, addr string) (net.Listener, error) {
	return listenIn(n.net.nsPath(n.net.nodeNS()), network, addr)
}

// NodeIP is the node's address on the pod network.
func (n *Node) NodeIP() net.IP { return n.net.gateway() }

// ServiceIP is the address a Service name resolves to in the pods.
func (n *Node) ServiceIP(service string) (net.IP, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	slot, err := n.serviceSlot(service)
	if err != nil {
		return nil, err
	}
	return n.net.ip(slot), nil
}

// serviceSlot is the workload whose pods a Service selects.
func (n *Node) serviceSlot(service string) (string, error) {
	s, ok := n.services[service]
	if !ok {
		return "", fmt.Errorf("no Service %s", service)
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	var found []string
	for _, slot := range n.workloadSlots() {
		tpl, _, _ := n.templateOf(slot)
		if len(s.Spec.Selector) > 0 && sel.Matches(labels.Set(tpl.Labels)) {
			found = append(found, slot)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("Service %s selects the pods of %d workloads (%v): only one is supported here", service, len(found), found)
	}
	return found[0], nil
}

// etcFiles are the /etc files the runtime and the kubelet give a
// container: hosts (here also standing in for cluster DNS), hostname,
// resolv.conf, and the image's passwd and group.
func (n *Node) etcFiles(p *Pod, img *Image) map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	domain := n.namespace + ".svc.cluster.local"
	var hosts strings.Builder
	hosts.WriteString("# Kubernetes-managed hosts file (kubelet stand-in): Service names stand in for cluster DNS.\n127.0.0.1\tlocalhost\n")
	self := p.Name
	if kind, name, _ := strings.Cut(p.Slot, "/"); kind == "StatefulSet" {
		if s, ok := n.statefulSets[name]; ok && s.Spec.ServiceName != "" {
			self += "." + s.Spec.ServiceName + "." + domain + " " + p.Name
		}
	}
	fmt.Fprintf(&hosts, "%s\t%s\n", p.IP, self)
	names := make([]string, 0, len(n.services))
	for name := range n.services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, svc := range names {
		slot, err := n.serviceSlot(svc)
		if err != nil {
			continue
		}
		ip := n.net.ip(slot)
		fmt.Fprintf(&hosts, "%s\t%s %s.%s %s.%s.svc %s.%s\n", ip, svc, svc, n.namespace, svc, n.namespace, svc, domain)
		if kind, name, _ := strings.Cut(slot, "/"); kind == "StatefulSet" {
			fmt.Fprintf(&hosts, "%s\t%s-0.%s.%s\n", ip, name, svc, domain)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	group := "root:x:0:\nnogroup:x:65534:\n"
	for _, u := range img.Users {
		passwd += fmt.Sprintf("%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Name, u.Home, u.Shell)
	}
	for _, g := range img.Groups {
		group += fmt.Sprintf("%s:x:%d:\n", g.Name, g.GID)
	}
	return map[string]string{
		"/etc/hosts":       hosts.String(),
		"/etc/hostname":    p.Name + "\n",
		"/etc/resolv.conf": fmt.Sprintf("search %s svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5\n", domain, n.net.gateway()),
		"/etc/passwd":      passwd,
		"/etc/group":       group,
	}
}

// Close stops every pod and removes the network.
func (n *Node) Close() {
	n.mu.Lock()
	pods := make([]*Pod, 0, len(n.pods))
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.pods = map[string]*Pod{}
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
	n.terminating.Wait()
	if n.net != nil {
		n.net.close()
	}
	if n.shm != "" {
		os.RemoveAll(n.shm)
	}
	// The claims' data stays in their images, for a later look.
	n.claimsMu.Lock()
	for _, d := range n.mounted {
		_ = unix.Unmount(d, 0)
	}
	n.mounted = nil
	n.claimsMu.Unlock()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
