//go:build runtime

package runtimetest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// controls shows that the upload and long-transfer checks can fail: the
// web API is run once with the uWSGI settings the platform had before
// (post-buffering = 4096, uWSGI's default socket-timeout of 4 s), and the
// same checks must then see the body spooled to /tmp and a download to a
// client that pauses cut off. The generated configuration is restored
// afterwards.
func (pe *platformEnv) controls(ctx context.Context, a *api) {
	t := pe.t
	patched := make([]runtime.Object, 0, len(pe.objects))
	timeout := regexp.MustCompile(`(?m)^socket-timeout = \d+$`)
	for _, o := range pe.objects {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok || cm.Name != "uwsgi-config" {
			patched = append(patched, o)
			continue
		}
		cm = cm.DeepCopy()
		ini := cm.Data["api.ini"]
		if !timeout.MatchString(ini) || strings.Contains(ini, "post-buffering") {
			t.Fatalf("api.ini is not what this control expects:\n%s", ini)
		}
		cm.Data["api.ini"] = timeout.ReplaceAllString(ini, "socket-timeout = 4") + "post-buffering = 4096\n"
		patched = append(patched, cm)
	}
	if _, err := pe.node.Update(patched, pe.secrets); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := pe.node.Update(pe.objects, pe.secrets); err != nil {
			t.Fatal(err)
		}
		if _, err := pe.node.Replace("Deployment/web-api"); err != nil {
			t.Fatal(err)
		}
		pe.waitReady(ctx, []string{"Deployment/web-api"}, 10*time.Minute)
	}()
	if _, err := pe.node.Replace("Deployment/web-api"); err != nil {
		t.Fatal(err)
	}
	pe.waitReady(ctx, []string{"Deployment/web-api"}, 10*time.Minute)

	const size = 256 << 20
	id := a.newDraft(ctx, fmt.Sprintf("Control %d", time.Now().UnixNano()))
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if u, err := pe.pod("Deployment/web-api").VolumeUsage("tmp"); err == nil && u > peak.Load() {
				peak.Store(u)
			}
		}
	}()
	status, body := a.upload(ctx, id, "spooled.bin", newPayload(size, 5), size)
	close(stop)
	if status != http.StatusOK {
		t.Fatalf("control upload: HTTP %d: %s", status, truncate(body, 300))
	}
	if peak.Load() < size/2 {
		t.Errorf("with post-buffering the web API's /tmp peaked at %.1f MiB for a %d MiB upload: the spooling check could not fail", float64(peak.Load())/(1<<20), size>>20)
	}
	_, n, err := a.download(ctx, pe.record, "big.bin", 8<<20, 15*time.Second)
	if err == nil && n == 1<<30 {
		t.Errorf("with socket-timeout = 4 a download pausing 15 s completed: the long-transfer check could not fail")
	}
	figures.add(t, "control, the old uWSGI settings: /tmp peaked at %.0f MiB for a %d MiB upload; a download pausing 15 s ended after %d MiB (%v)",
		float64(peak.Load())/(1<<20), size>>20, n>>20, err)
}
