package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		// The node needs root; `make test` runs as root in CI.
		os.Exit(m.Run())
	}
	os.Exit(Main(m.Run))
}

// debian stands in for an image that is the node's own Debian.
var debian = &Image{Repository: "debian", Tags: []string{"12"}, Runs: "Debian 12 (the node's root)",
	Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	Users: []User{{Name: "app", UID: 1234, GID: 1234, Home: "/home/app", Shell: "/bin/sh"}}, Groups: []Group{{Name: "app", GID: 1234}},
	Files: []File{{Path: "/etc/app/app.conf", Content: "from the image\n"}}}

func ptr[T any](v T) *T { return &v }

func container(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: "debian:12", Command: []string{"sh", "-c", script},
		SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr(true), AllowPrivilegeEscalation: ptr(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}
}

func podSpec(cs ...corev1.Container) corev1.PodSpec {
	sz := resource.MustParse("16Mi")
	return corev1.PodSpec{
		// sleep and python as PID 1 ignore SIGTERM: the grace period decides.
		TerminationGracePeriodSeconds: ptr(int64(1)),
		SecurityContext:               &corev1.PodSecurityContext{RunAsUser: ptr(int64(1234)), RunAsGroup: ptr(int64(1234)), FSGroup: ptr(int64(2000))},
		Containers:                    cs,
		Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &sz}}},
			{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}, DefaultMode: ptr(int32(0o444))}}},
			{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: ptr(int32(0o400))}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
		},
	}
}

func mounts(c corev1.Container) corev1.Container {
	c.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "conf", MountPath: "/etc/conf"},
		{Name: "secret", MountPath: "/var/run/secret"}, {Name: "data", MountPath: "/srv/data"}}
	c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}}
	c.Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "URL", Value: "db://u:$(PASSWORD)@server/$(UNDEFINED)$$"}}
	return c
}

func newTestNode(t *testing.T, objs ...runtime.Object) *Node {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the node needs root")
	}
	objs = append(objs,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf"}, Data: map[string]string{"GREETING": "hello", "app.ini": "[app]\n"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "server"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "server"},
			Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromString("http")}}}},
	)
	dir := t.TempDir()
	if d := os.Getenv("KUBELET_TEST_DIR"); d != "" {
		dir = d + "/" + t.Name()
	}
	n, err := New(Options{Dir: dir, Namespace: "test", Objects: objs, Images: Images{"debian": debian},
		Secrets: []*corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cret")}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

func deployment(name string, lbl map[string]string, spec corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl}, Spec: spec}}}
}

// TestContainerSandbox: a container sees the image and its volumes, runs
// as its user, cannot write outside its volumes, and reaches a Service.
func TestContainerSandbox(t *testing.T) {
	server := container("server", "exec python3 -m http.server 8080 --directory /etc/app")
	server.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	server.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/app.conf", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
	client := mounts(container("client", "exec sleep infinity"))
	n := newTestNode(t,
		deployment("server", map[string]string{"app": "server"}, podSpec(server)),
		deployment("client", map[string]string{"app": "client"}, podSpec(client)),
	)
	ctx := context.Background()
	srv, err := n.Start("Deployment/server")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := n.Start("Deployment/client")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Pod{srv, cl} {
		if err := p.WaitReady(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, script, want string
		fail               bool
	}{
		{"user", "id", "uid=1234(app) gid=1234(app) groups=1234(app),2000", false},
		{"pid 1", "cat /proc/1/cmdline | tr '\\0' ' '", "sleep infinity", false},
		{"hostname", "hostname", cl.Name, false},
		{"image file", "cat /etc/app/app.conf", "from the image", false},
		{"env", "echo $GREETING $URL $HOSTNAME", "hello db://u:s3cret@server/$(UNDEFINED)$ " + cl.Name, false},
		{"configmap", "cat /etc/conf/app.ini && readlink /etc/conf/app.ini && stat -c %a /etc/conf/..data/app.ini", "[app]\n..data/app.ini\n444", false},
		{"secret mode and group", "stat -c '%a %g' /var/run/secret/..data/password && cat /var/run/secret/password", "440 2000\ns3cret", false},
		{"claim group", "stat -c '%a %g' /srv/data && touch /srv/data/x && echo ok", "2775 2000\nok", false},
		{"tmp writable", "echo x > /tmp/x && cat /tmp/x", "x", false},
		{"root read-only", "touch /x", "Read-only file system", true},
		{"usr read-only", "touch /usr/x", "Read-only file system", true},
		{"configmap read-only", "touch /etc/conf/y", "Read-only file system", true},
		{"host hidden", "ls -A /root /home /opt /run | tr -d '\\n'; test -e /work && echo visible || echo hidden", "/home:/opt:/root:/run:secrethidden", false},
		{"service", "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://server:8080/app.conf').read().decode())\"", "from the image", false},
		{"no ipv6", "cat /proc/sys/net/ipv6/conf/all/disable_ipv6", "1", false},
		{"no capabilities", "grep CapBnd /proc/self/status", "CapBnd:\t0000000000000000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := cl.Exec(ctx, "client", nil, "sh", "-c", tc.script)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(res.Stdout + res.Stderr)
			if tc.fail != (res.ExitCode != 0) || !strings.Contains(got, tc.want) {
				t.Errorf("%s: exit %d, output %q; want fail=%v and %q", tc.script, res.ExitCode, got, tc.fail, tc.want)
			}
		})
	}
}

// TestProbesAndRestarts: a failing liveness probe gets the container
// killed and restarted within period × threshold; a failing postStart hook
// kills it.
func TestProbesAndRestarts(t *testing.T) {
	live := container("app", "touch /tmp/alive; exec sleep infinity")
	live.VolumeMounts = []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}
	live.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "/tmp/alive"}}}, PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1}
	hook := container("app", "exec sleep infinity")
	hook.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo hook >/proc/1/fd/1; exit 3"}}}}
	n := newTestNode(t,
		deployment("live", map[string]string{"app": "live"}, podSpec(live)),
		deployment("hook", map[string]string{"app": "hook"}, podSpec(hook)),
	)
	ctx := context.Background()
	p, err := n.Start("Deployment/live")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if res, err := p.Exec(ctx, "app", nil, "rm", "/tmp/alive"); err != nil || res.ExitCode != 0 {
		t.Fatal(res, err)
	}
	for {
		st, _ := p.Status("app")
		if st.Restarts == 1 && st.Running {
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("restarted after %s; period × threshold is 2 s, the grace period 1 s", d)
			}
			if !strings.Contains(st.LastKill, "liveness") {
				t.Errorf("last kill %q", st.LastKill)
			}
			break
		}
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("not restarted: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h, err := n.Start("Deployment/hook")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := h.Status("app")
		if st.Restarts >= 1 && strings.Contains(st.LastKill, "FailedPostStartHook") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a failing postStart hook did not kill the container: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b, _ := os.ReadFile(h.LogPath("app")); !strings.Contains(string(b), "hook\n") {
		t.Errorf("the hook's output is not in the container's log:\n%s", b)
	}
}

// TestExecLeavesDaemon: a command that leaves a daemon holding its output
// (as RabbitMQ's CLI leaves epmd) still returns, and a probe loop goes on.
func TestExecLeavesDaemon(t *testing.T) {
	n := newTestNode(t, deployment("d", map[string]string{"app": "d"}, podSpec(container("app", "exec sleep infinity"))))
	ctx := context.Background()
	p, err := n.Start("Deployment/d")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := p.Exec(tctx, "app", nil, "sh", "-c", "setsid sleep 300 & echo started; exit 3")
	if err != nil || res.ExitCode != 3 || !strings.Contains(res.Stdout, "started") {
		t.Fatalf("%+v %v", res, err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("the exec waited %s for the daemon", d)
	}
}

// TestJob: a failing Job is retried backoffLimit times; one that
// succeeds completes.
func TestJob(t *testing.T) {
	job := func(name, script string) *batchv1.Job {
		spec := podSpec(mounts(container("main", script)))
		spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(1)),
			Template: corev1.PodTemplateSpec{Spec: spec}}}
	}
	n := newTestNode(t, job("ok", "test -s /srv/data/count && echo second >> /srv/data/count || echo first > /srv/data/count"), job("fail", "exit 2"),
		job("df", "stat -f -c '%b %S' /srv/data > /srv/data/statfs"))
	ctx := context.Background()
	run, err := n.RunJob(ctx, "ok")
	if err != nil || !run.Succeeded || len(run.Pods) != 1 {
		t.Fatalf("ok: %+v %v", run, err)
	}
	run, err = n.RunJob(ctx, "fail")
	if err != nil || run.Succeeded || len(run.Pods) != 2 || !strings.Contains(run.Reason, "BackoffLimitExceeded") {
		t.Fatalf("fail: %+v %v", run, err)
	}
	// The claim is a file system of the 64Mi it requests, not this
	// machine's disk: what df inside the pod (and OpenSearch's disk
	// watermarks) see.
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("this machine has no loop devices (%v): claims are directories on its disk", err)
	}
	run, err = n.RunJob(ctx, "df")
	if err != nil || !run.Succeeded {
		t.Fatalf("df: %+v %v", run, err)
	}
	out, err := os.ReadFile(filepath.Join(n.ClaimDir("data"), "statfs"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks, bsize int64
	if _, err := fmt.Sscan(string(out), &blocks, &bsize); err != nil {
		t.Fatalf("statfs %q: %v", out, err)
	}
	if size := blocks * bsize; size > 64<<20 || size < 48<<20 {
		t.Errorf("the claim's file system has %d bytes, want about 64 MiB (ext4's own blocks aside)", size)
	}
}

func TestImagesResolve(t *testing.T) {
	bookworm := &Image{Repository: "debian", Tags: []string{"bookworm"}, Runs: "Debian 12 under another tag"}
	is := Images{"debian": debian, "debian:bookworm": bookworm}
	for _, tc := range []struct {
		ref  string
		want *Image
		err  string
	}{
		{"debian:12", debian, ""},
		{"debian:bookworm", bookworm, ""},
		{"debian:11", nil, `answers for tags [12], not "11"`},
		{"opensearchproject/opensearch-dashboards:2.17.1", nil, `no stand-in for "opensearchproject/opensearch-dashboards"`},
	} {
		got, err := is.Resolve(tc.ref)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.ref, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("%s: resolved to %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "1-two", "$(C)": "$(C)", "$$(A)": "$(A)", "a$": "a$", "$(A": "$(A", "x$y": "x$y",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestClaimAttachedToAnotherNode: a claim's volume a closed node left (its
// image, or its directory without loop devices), put into another node's
// claims directory before that node's first pod, is the volume that node's
// pods see, with its data — a PersistentVolume bound again (the run-time
// harness's restore into a new instance).
func TestClaimAttachedToAnotherNode(t *testing.T) {
	job := func() *batchv1.Job {
		spec := podSpec(mounts(container("main", "test -s /srv/data/count && echo second >> /srv/data/count || echo first > /srv/data/count")))
		spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "count"}, Spec: batchv1.JobSpec{BackoffLimit: ptr(int32(0)),
			Template: corev1.PodTemplateSpec{Spec: spec}}}
	}
	ctx := context.Background()
	old := newTestNode(t, job())
	if run, err := old.RunJob(ctx, "count"); err != nil || !run.Succeeded {
		t.Fatalf("first node: %+v %v", run, err)
	}
	from := old.ClaimDir("data")
	old.Close()
	n := newTestNode(t, job())
	if err := AttachClaim(n.dir, "data", from); err != nil {
		t.Fatal(err)
	}
	if run, err := n.RunJob(ctx, "count"); err != nil || !run.Succeeded {
		t.Fatalf("second node: %+v %v", run, err)
	}
	b, err := os.ReadFile(filepath.Join(n.ClaimDir("data"), "count"))
	if err != nil || string(b) != "first\nsecond\n" {
		t.Errorf("the claim on the second node holds %q (%v), want the first node's line and its own", b, err)
	}
}
