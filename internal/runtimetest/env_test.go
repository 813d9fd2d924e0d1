//go:build runtime

package runtimetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
	"lbl.gov/invenio-gitops/internal/kubelet"
	"lbl.gov/invenio-gitops/internal/workcopy"
)

// platformEnv is one environment of the repository run on a node: a
// working copy sealed for the test's key, its build, its unsealed Secrets.
type platformEnv struct {
	t         *testing.T // the running step
	root      *testing.T // the environment's test: the node lives as long as it
	name      string
	repo      *workcopy.Repo
	key       *rsa.PrivateKey
	env       config.Environment
	namespace string
	node      *kubelet.Node
	objects   []runtime.Object
	secrets   []*corev1.Secret
	ingress   *ingress
	// interrupt: the first install is killed once in every step of
	// setup.sh and resumed by the next attempt (interruptedInstall).
	interrupt bool
	// upgradeTo: the environment starts from InvenioRDM's first v12 and
	// its release step upgrades to this tag; empty: the release step rolls
	// a new tag of the same release (upgradeTag).
	upgradeTo string
	lastSetup kubelet.JobRun // the setup Job's run of the last rollout
	// adopt: claims whose volume another node left (claim → its image or
	// directory there), attached to this node before its first pod.
	adopt map[string]string
	// restoreRun: the restore Job's run, when the environment restores.
	restoreRun  kubelet.JobRun
	restoreTook time.Duration
	installRun  kubelet.JobRun // the setup Job's run when the node started

	record, recordTitle, recordSum string // a published record the later checks expect to survive
}

// newPlatformEnv makes a working copy sealed for a new key, lets edit
// change its description first (nil: none) and builds env from it.
func newPlatformEnv(t *testing.T, name string, edit func(r *workcopy.Repo)) *platformEnv {
	t.Helper()
	kp, err := cluster.NewSealingKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.KeyPEM)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pe := &platformEnv{t: t, root: t, name: name, key: key}
	pe.repo = workcopy.New(t, root, platformctl, kp.CertPEM, operatorValue(t), name)
	if edit != nil {
		edit(pe.repo)
		pe.repo.CLI(t, "generate", "-q")
	}
	pe.load()
	return pe
}

// operatorValue supplies the SAML service provider's key pair: a real one,
// as invenio-saml reads it.
func operatorValue(t *testing.T) workcopy.Operator {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return func(k sealing.Key) []byte {
		if strings.HasSuffix(k.Key, ".key") {
			return keyPEM
		}
		return certPEM
	}
}

// load builds the environment from the working copy and unseals its
// SealedSecrets with the test's key, as the controller would.
func (pe *platformEnv) load() {
	t := pe.t
	t.Helper()
	p := pe.repo.Platform(t)
	for _, e := range p.Environments {
		if string(e.Name) == pe.name {
			pe.env = e
		}
	}
	pe.namespace = string(pe.env.Namespace)
	built := pe.repo.CLI(t, "build", pe.name)
	objs, sealed, err := decode([]byte(built))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*rsa.PrivateKey{"test": pe.key}
	var secrets []*corev1.Secret
	for _, ss := range sealed {
		s, err := ss.Unseal(scheme.Codecs, keys)
		if err != nil {
			t.Fatalf("unsealing %s: %v", ss.Name, err)
		}
		secrets = append(secrets, s)
	}
	pe.objects, pe.secrets = objs, secrets
}

// decode reads a built environment into typed objects; SealedSecrets
// apart, kinds client-go does not know (monitoring, Flux) are left out.
func decode(b []byte) ([]runtime.Object, []*ssv1alpha1.SealedSecret, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []runtime.Object
	var sealed []*ssv1alpha1.SealedSecret
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, sealed, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, nil, err
		}
		if meta.Kind == "SealedSecret" {
			var ss ssv1alpha1.SealedSecret
			if err := yaml.UnmarshalStrict(doc, &ss); err != nil {
				return nil, nil, err
			}
			sealed = append(sealed, &ss)
			continue
		}
		o, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			if runtime.IsNotRegisteredError(err) {
				continue
			}
			return nil, nil, err
		}
		objs = append(objs, o)
	}
}

// start makes the node and starts the environment as Flux's layers would
// bring it: the data services, then the application with its setup Job
// (the app layer's Deployments start while the Job runs, as on a cluster),
// then the ingress controller's stand-in. It fails the test on an install
// that does not complete.
func (pe *platformEnv) start(ctx context.Context) {
	t := pe.t
	t.Helper()
	site, tags := pe.siteImage()
	// The tag the release step rolls out is known to the node from the start.
	for _, tag := range tags {
		tags = append(tags, upgradeTag(tag))
	}
	if pe.upgradeTo != "" {
		tags = append(tags, pe.upgradeTo)
	}
	imgs, err := installed.images(site, tags)
	if err != nil {
		t.Fatal(err)
	}
	imgs[ingressImage.Repository] = ingressImage
	dir := filepath.Join(runDir, strings.ReplaceAll(t.Name(), "/", "_"))
	for claim, from := range pe.adopt {
		if err := kubelet.AttachClaim(dir, claim, from); err != nil {
			t.Fatal(err)
		}
	}
	pe.node, err = kubelet.New(kubelet.Options{Dir: dir, Namespace: pe.namespace, Objects: pe.objects, Secrets: pe.secrets, Images: imgs})
	if err != nil {
		t.Fatal(err)
	}
	pe.root.Cleanup(pe.node.Close)
	t.Logf("node %s: pods, logs and events under %s", pe.name, dir)
	t0 := time.Now()
	data := pe.slots(nil, "StatefulSet")
	pe.startAll(ctx, data, 10*time.Minute)
	figures.add(t, "data services ready (%s) in %s", strings.Join(data, ", "), time.Since(t0).Round(time.Second))
	t1 := time.Now()
	apps := pe.slots(nil, "Deployment")
	var wg sync.WaitGroup
	var install kubelet.JobRun
	var installErr, restoreErr error
	restoring := slices.Contains(pe.jobNames(), invenio.Restore)
	if restoring {
		// Flux applies it with the setup Job (both in the app layer); the
		// setup Job waits for the database it restores.
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			pe.restoreRun, restoreErr = pe.node.RunJob(ctx, invenio.Restore)
			pe.restoreTook = time.Since(t0)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if pe.interrupt {
			install, installErr = pe.interruptedInstall(ctx)
			return
		}
		install, installErr = pe.node.RunJob(ctx, "invenio-setup")
	}()
	for _, s := range apps {
		if _, err := pe.node.Start(s); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if installErr != nil {
		t.Fatal(installErr)
	}
	if restoreErr != nil {
		t.Fatal(restoreErr)
	}
	if r := pe.restoreRun; restoring && !r.Succeeded {
		last := r.Pods[len(r.Pods)-1]
		t.Fatalf("the restore Job failed (%s):\n%s", r.Reason, pe.logsOf(last))
	}
	if !install.Succeeded {
		last := install.Pods[len(install.Pods)-1]
		t.Fatalf("the setup Job did not complete (%s); its log: %s\n%s", install.Reason, last.LogPath("setup"), cluster.Tail(last.LogPath("setup"), 40))
	}
	what := "first install"
	if restoring {
		what = "after the restore Job, the upgrade of the restored install"
	}
	pe.installRun = install
	figures.add(t, "setup Job (%s) completed in %s, %d attempt(s)", what, time.Since(t1).Round(time.Second), len(install.Pods))
	pe.waitReady(ctx, apps, 10*time.Minute)
	figures.add(t, "application ready (%s) %s after the data services", strings.Join(apps, ", "), time.Since(t1).Round(time.Second))
	// `invenio rdm-records fixtures` queues the vocabularies (languages,
	// licenses, resource types…) as Celery tasks; the setup Job reports
	// the install done only once the worker has loaded them, so the queues
	// must be empty now, not minutes later.
	pe.waitQueuesDrained(ctx, time.Minute)
	for _, j := range pe.jobNames() {
		if j == "invenio-setup" || j == invenio.Restore {
			continue
		}
		run, err := pe.node.RunJob(ctx, j)
		if err != nil || !run.Succeeded {
			t.Fatalf("Job %s: %v %s", j, err, run.Reason)
		}
	}
	pe.ingress = pe.startIngress(ctx)
}

// waitQueuesDrained waits until RabbitMQ holds no message in any queue of
// the application's virtual host, three times in a row.
func (pe *platformEnv) waitQueuesDrained(ctx context.Context, d time.Duration) {
	t := pe.t
	t.Helper()
	deadline := time.Now().Add(d)
	empty := 0
	for empty < 3 {
		res, err := pe.pod("StatefulSet/rabbitmq").Exec(ctx, "rabbitmq", nil, "rabbitmqctl", "-q", "list_queues", "-p", "invenio", "name", "messages")
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, line := range strings.Split(res.Stdout, "\n") {
			f := strings.Fields(line)
			if len(f) == 2 {
				var n int
				fmt.Sscan(f[1], &n)
				total += n
			}
		}
		if res.ExitCode == 0 && total == 0 {
			empty++
		} else {
			empty = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Celery queues still hold messages after %s: %s", d, res.Stdout)
		}
		time.Sleep(5 * time.Second)
	}
}

// siteImage is the InvenioRDM image of the environment and its tags.
func (pe *platformEnv) siteImage() (string, []string) {
	repo := string(pe.env.Image.Repository)
	tags := map[string]bool{}
	for _, o := range pe.objects {
		for _, spec := range podSpecs(o) {
			for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
				if r, tag, ok := strings.Cut(c.Image, ":"); ok && r == repo {
					tags[tag] = true
				}
			}
		}
	}
	var out []string
	for tag := range tags {
		out = append(out, tag)
	}
	sort.Strings(out)
	return repo, out
}

func podSpecs(o runtime.Object) []corev1.PodSpec {
	switch x := o.(type) {
	case *appsv1.Deployment:
		return []corev1.PodSpec{x.Spec.Template.Spec}
	case *appsv1.StatefulSet:
		return []corev1.PodSpec{x.Spec.Template.Spec}
	case *batchv1.Job:
		return []corev1.PodSpec{x.Spec.Template.Spec}
	case *batchv1.CronJob:
		return []corev1.PodSpec{x.Spec.JobTemplate.Spec.Template.Spec}
	}
	return nil
}

// slots lists the workloads of a kind ("Kind/name"), sorted.
func (pe *platformEnv) slots(keep func(map[string]string) bool, kind string) []string {
	var out []string
	for _, o := range pe.objects {
		switch x := o.(type) {
		case *appsv1.Deployment:
			if kind == "Deployment" && (keep == nil || keep(x.Spec.Template.Labels)) {
				out = append(out, "Deployment/"+x.Name)
			}
		case *appsv1.StatefulSet:
			if kind == "StatefulSet" && (keep == nil || keep(x.Spec.Template.Labels)) {
				out = append(out, "StatefulSet/"+x.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (pe *platformEnv) jobNames() []string {
	var out []string
	for _, o := range pe.objects {
		if j, ok := o.(*batchv1.Job); ok {
			out = append(out, j.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (pe *platformEnv) ingressObject() *networkingv1.Ingress {
	for _, o := range pe.objects {
		if i, ok := o.(*networkingv1.Ingress); ok {
			return i
		}
	}
	return nil
}

// startAll starts workloads and waits until every one is ready.
func (pe *platformEnv) startAll(ctx context.Context, slots []string, d time.Duration) {
	pe.t.Helper()
	for _, s := range slots {
		if _, err := pe.node.Start(s); err != nil {
			pe.t.Fatal(err)
		}
	}
	pe.waitReady(ctx, slots, d)
}

func (pe *platformEnv) waitReady(ctx context.Context, slots []string, d time.Duration) {
	pe.t.Helper()
	for _, s := range slots {
		p, ok := pe.node.Pod(s)
		if !ok {
			pe.t.Fatalf("%s has no pod", s)
		}
		if err := p.WaitReady(ctx, d); err != nil {
			pe.t.Fatalf("%v\n%s", err, pe.logsOf(p))
		}
	}
}

// logsOf is the tail of every container log and the events of a pod.
func (pe *platformEnv) logsOf(p *kubelet.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "--- events of %s:\n%s\n", p.Name, cluster.Tail(filepath.Join(p.Dir(), "events.log"), 30))
	logs, _ := filepath.Glob(filepath.Join(p.Dir(), "logs", "*.log"))
	for _, l := range logs {
		fmt.Fprintf(&b, "--- %s:\n%s\n", l, cluster.Tail(l, 30))
	}
	return b.String()
}

// pod returns the running pod of a workload.
func (pe *platformEnv) pod(slot string) *kubelet.Pod {
	pe.t.Helper()
	p, ok := pe.node.Pod(slot)
	if !ok {
		pe.t.Fatalf("%s has no pod", slot)
	}
	return p
}

// exec runs a shell script in a container and fails the test unless it
// exits 0.
func (pe *platformEnv) exec(ctx context.Context, slot, container, script string) string {
	pe.t.Helper()
	res, err := pe.pod(slot).Exec(ctx, container, nil, "sh", "-c", script)
	if err != nil {
		pe.t.Fatal(err)
	}
	if res.ExitCode != 0 {
		pe.t.Fatalf("%s/%s: %s: exit %d\n%s%s", slot, container, script, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}
