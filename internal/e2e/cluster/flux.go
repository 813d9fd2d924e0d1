package cluster

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// StartKustomizeController runs Flux's real kustomize-controller against the
// cluster, watching every namespace, with runtime namespace ns. Dependencies
// that are not ready yet are re-checked every 2 s instead of 30 s, so that a
// chain of layers settles within a test's patience; everything else is the
// controller's default.
func (c *Cluster) StartKustomizeController(ctx context.Context, ns string) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	health := fmt.Sprintf("127.0.0.1:%d", ports[1])
	p, err := c.run("kustomize-controller", []string{"KUBECONFIG=" + c.Kubeconfig, "RUNTIME_NAMESPACE=" + ns},
		filepath.Join(c.tools.Bin, "kustomize-controller"),
		"--watch-all-namespaces=true", "--enable-leader-election=false",
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[0]), "--health-addr="+health, "--events-addr=",
		"--requeue-dependency=2s", "--log-level=info", "--log-encoding=console")
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return poll(wctx, "kustomize-controller /readyz", 200*time.Millisecond, []*process{p}, httpOK("http://"+health+"/readyz", false))
}

// ArtifactServer serves one repository revision at a time as the tar.gz
// artifact source-controller would store: what kustomize-controller downloads.
type ArtifactServer struct {
	URL  string
	srv  *http.Server
	mu   sync.Mutex
	body []byte
}

// StartArtifactServer listens on a loopback port until the cluster stops.
func (c *Cluster) StartArtifactServer() (*ArtifactServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &ArtifactServer{URL: "http://" + l.Addr().String()}
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		body := a.body
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})}
	go a.srv.Serve(l)
	c.OnStop(func() { a.srv.Close() })
	return a, nil
}

// Artifact is a served revision.
type Artifact struct {
	Revision string // main@sha1:<hex>, as source-controller writes it
	Digest   string // sha256:<hex> of the tar.gz
	Size     int64
	URL      string
}

// Serve packs dir (skipping .git) and serves it as the current revision.
func (a *ArtifactServer) Serve(dir, branch string) (Artifact, error) {
	body, err := TarGz(dir)
	if err != nil {
		return Artifact{}, err
	}
	a.mu.Lock()
	a.body = body
	a.mu.Unlock()
	sum := sha256.Sum256(body)
	commit := sha1.Sum(body)
	rev := hex.EncodeToString(commit[:])
	return Artifact{
		Revision: branch + "@sha1:" + rev,
		Digest:   "sha256:" + hex.EncodeToString(sum[:]),
		Size:     int64(len(body)),
		URL:      a.URL + "/" + rev + ".tar.gz",
	}, nil
}

// TarGz packs a directory tree (regular files, sorted, .git skipped) the way
// source-controller packs a checkout.
func TarGz(dir string) ([]byte, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var gitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}

// PublishArtifact sets the GitRepository's status to the artifact, as
// source-controller does after a fetch: kustomize-controller then applies
// that revision.
func (c *Cluster) PublishArtifact(ctx context.Context, ns, name string, a Artifact) error {
	gr, err := c.Dynamic.Resource(gitRepositoryGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	gen := gr.GetGeneration()
	status := map[string]any{"status": map[string]any{
		"observedGeneration": gen,
		"conditions": []any{
			map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded", "observedGeneration": gen,
				"message": "stored artifact for revision '" + a.Revision + "'", "lastTransitionTime": now},
			map[string]any{"type": "ArtifactInStorage", "status": "True", "reason": "Succeeded", "observedGeneration": gen,
				"message": "stored artifact for revision '" + a.Revision + "'", "lastTransitionTime": now},
		},
		"artifact": map[string]any{
			"path": fmt.Sprintf("gitrepository/%s/%s/%s.tar.gz", ns, name, a.Digest[len("sha256:"):]),
			"url":  a.URL, "revision": a.Revision, "digest": a.Digest, "lastUpdateTime": now, "size": a.Size,
		},
	}}
	b, _ := json.Marshal(status)
	_, err = c.Dynamic.Resource(gitRepositoryGVR).Namespace(ns).Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{}, "status")
	return err
}
