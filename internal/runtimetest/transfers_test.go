//go:build runtime

package runtimetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// longTransfers: an upload and a download, each paced to last more than
// 200 s and pausing 45 s half-way (a client that stops reading or sending
// for a while), run at the same time and both complete intact. No hop
// limits a transfer's total time; every hop waits ingress.idleTimeout for
// the next bytes.
func (pe *platformEnv) longTransfers(ctx context.Context, a *api) {
	t := pe.t
	const (
		upSize = 48 << 20
		upRate = 256 << 10 // 192 s + 45 s pause
		pause  = 45 * time.Second
	)
	var wg sync.WaitGroup
	var upErr, downErr error
	var upDur, downDur time.Duration
	wg.Add(2)
	go func() {
		defer wg.Done()
		id := a.newDraft(ctx, fmt.Sprintf("Long upload %d", time.Now().UnixNano()))
		p := newPayload(upSize, 2)
		p.throttle, p.pause = upRate, pause
		t0 := time.Now()
		status, body := a.upload(ctx, id, "slow.bin", p, upSize)
		upDur = time.Since(t0)
		if status != http.StatusOK {
			upErr = fmt.Errorf("paced upload: HTTP %d after %s: %s", status, upDur.Round(time.Second), truncate(body, 300))
		}
	}()
	go func() {
		defer wg.Done()
		// The 1 GiB file at 4 MiB/s: 256 s, plus the pause.
		t0 := time.Now()
		sum, n, err := a.download(ctx, pe.record, "big.bin", 4<<20, pause)
		downDur = time.Since(t0)
		switch {
		case err != nil:
			downErr = fmt.Errorf("paced download: %v after %s and %d bytes", err, downDur.Round(time.Second), n)
		case n != 1<<30:
			downErr = fmt.Errorf("paced download: %d bytes", n)
		case sum != pe.recordSum:
			downErr = fmt.Errorf("paced download: SHA-256 %s, uploaded %s", sum, pe.recordSum)
		}
	}()
	wg.Wait()
	if upErr != nil {
		t.Error(upErr)
	}
	if downErr != nil {
		t.Error(downErr)
	}
	figures.add(t, "paced upload of 48 MiB with a 45 s pause: %s; paced download of 1 GiB with a 45 s pause: %s", upDur.Round(time.Second), downDur.Round(time.Second))
	if upDur < 200*time.Second || downDur < 200*time.Second {
		t.Errorf("a transfer lasted less than 200 s (%s, %s): the pacing is wrong", upDur, downDur)
	}
}

// limits: with ingress.maxUploadSize set to 20Mi in the description, a
// file of exactly 20Mi is accepted end to end and one byte more is refused
// with 413 by the ingress, before the frontend sees it; the frontend and
// the application are set to the same limit.
func (pe *platformEnv) limits(ctx context.Context, a *api) {
	t := pe.t
	const limit = "20Mi"
	q := resource.MustParse(limit)
	bytesLimit := q.Value()
	pe.repo.Edit(t, pe.name, []string{"ingress"}, "maxUploadSize", limit, "")
	pe.repo.CLI(t, "generate", "-q")
	pe.rollout(ctx)
	pe.restartIngress(ctx)
	// The application's own settings (InvenioRDM reads INVENIO_*).
	out := pe.exec(ctx, "Deployment/web-api", "web-api", `python - <<'PY'
from invenio_app.factory import create_api
app = create_api()
c = app.config
print(c["FILES_REST_DEFAULT_MAX_FILE_SIZE"], c["FILES_REST_DEFAULT_QUOTA_SIZE"] >= c["FILES_REST_DEFAULT_MAX_FILE_SIZE"], c["APP_RDM_DEPOSIT_FORM_QUOTA"]["maxStorage"] == c["FILES_REST_DEFAULT_QUOTA_SIZE"])
PY`)
	if got := strings.Fields(lastLine(out)); len(got) != 3 || got[0] != fmt.Sprint(bytesLimit) || got[1] != "True" || got[2] != "True" {
		t.Errorf("the application's file-size settings: %q, want %d True True", lastLine(out), bytesLimit)
	}
	id := a.newDraft(ctx, fmt.Sprintf("Limit %d", time.Now().UnixNano()))
	if status, body := a.upload(ctx, id, "at-limit.bin", newPayload(bytesLimit, 3), bytesLimit); status != http.StatusOK {
		t.Errorf("a file of exactly %s: HTTP %d: %s", limit, status, truncate(body, 300))
	}
	frontendLog := pe.pod("Deployment/frontend").LogPath("nginx")
	before := fileSize(frontendLog)
	status, body := a.upload(ctx, id, "over-limit.bin", newPayload(bytesLimit+1, 4), bytesLimit+1)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("a file of %s + 1 byte: HTTP %d, want 413: %s", limit, status, truncate(body, 300))
	}
	if strings.Contains(readFrom(frontendLog, before), "over-limit.bin") {
		t.Errorf("the frontend saw the request the ingress must refuse")
	}
	// The frontend refuses it on its own too (a request that reaches it
	// some other way).
	code, err := pe.putDirect(ctx, "frontend", "8080", "/api/records/"+id+"/draft/files/over-limit.bin/content", bytesLimit+1)
	if err != nil || code != http.StatusRequestEntityTooLarge {
		t.Errorf("the frontend, sent %s + 1 byte directly: HTTP %d (%v), want 413", limit, code, err)
	}
	figures.add(t, "maxUploadSize %s: %d bytes accepted through every hop, %d refused with 413 by the ingress and by the frontend", limit, bytesLimit, bytesLimit+1)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func readFrom(p string, off int64) string {
	b, err := os.ReadFile(p)
	if err != nil || int64(len(b)) < off {
		return ""
	}
	return string(b[off:])
}

// putDirect sends a PUT of size bytes to a Service's pod from the node,
// bypassing the ingress (Host set as the ingress sets it).
func (pe *platformEnv) putDirect(ctx context.Context, service, port, path string, size int64) (int, error) {
	ip, err := pe.node.ServiceIP(service)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", "http://"+net.JoinHostPort(ip.String(), port)+path, io.LimitReader(zeros{}, size))
	if err != nil {
		return 0, err
	}
	req.Host = pe.ingress.host
	req.ContentLength = size
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := pe.node.HTTPClient().Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

var _ = bytes.NewReader
