//go:build runtime

package runtimetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// api talks to InvenioRDM's REST API through the ingress, as a user's
// client on the Internet does, with a personal access token.
type api struct {
	pe    *platformEnv // its running step and current ingress
	token string
}

func (a *api) T() *testing.T { return a.pe.t }
func (a *api) in() *ingress  { return a.pe.ingress }

// newAPI makes an administrator and a personal access token with the
// invenio CLI in the web API's container (as an operator would with
// kubectl exec).
func (pe *platformEnv) newAPI(ctx context.Context) *api {
	pe.t.Helper()
	email := "admin@example.org"
	pe.exec(ctx, "Deployment/web-api", "web-api", fmt.Sprintf(
		"invenio users create %s --password 'runtime-test-%d' --active --confirm && invenio roles add %s admin", email, time.Now().Unix(), email))
	out := pe.exec(ctx, "Deployment/web-api", "web-api", "invenio tokens create --name runtime --user "+email)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return &api{pe: pe, token: strings.TrimSpace(lines[len(lines)-1])}
}

// do sends a request and decodes a JSON answer into out (when not nil);
// it fails the test unless the status is want.
func (a *api) do(ctx context.Context, method, path string, body any, want int, out any) {
	a.T().Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.T().Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.in().URL(path), r)
	if err != nil {
		a.T().Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.in().client.Do(req)
	if err != nil {
		a.T().Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.T().Fatalf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, truncate(string(b), 2000))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.T().Fatalf("%s %s: %v: %s", method, path, err, truncate(string(b), 500))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// newDraft creates a draft with files and returns its id.
func (a *api) newDraft(ctx context.Context, title string) string {
	a.T().Helper()
	var draft struct{ ID string }
	a.do(ctx, "POST", "/api/records", map[string]any{
		"access": map[string]any{"record": "public", "files": "public"},
		"files":  map[string]any{"enabled": true},
		"metadata": map[string]any{
			"creators":         []any{map[string]any{"person_or_org": map[string]any{"family_name": "Harness", "given_name": "Runtime", "type": "personal"}}},
			"publication_date": time.Now().UTC().Format("2006-01-02"),
			"publisher":        "Runtime harness",
			"resource_type":    map[string]any{"id": "dataset"},
			"title":            title,
		},
	}, http.StatusCreated, &draft)
	return draft.ID
}

// payload is size bytes of reproducible pseudo-random content; it counts
// what was read and hashes it. throttle, when set, paces reading (bytes
// per second) and pause stops it once half-way for that long.
type payload struct {
	size, read int64
	sent       atomic.Int64
	rng        *rand.ChaCha8
	sum        hash.Hash
	throttle   int64
	pause      time.Duration
	paused     bool
	start      time.Time
}

func newPayload(size int64, seed byte) *payload {
	var s [32]byte
	s[0] = seed
	return &payload{size: size, rng: rand.NewChaCha8(s), sum: sha256.New()}
}

func (p *payload) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if p.read >= p.size {
		return 0, io.EOF
	}
	if int64(len(b)) > p.size-p.read {
		b = b[:p.size-p.read]
	}
	if p.throttle > 0 {
		if len(b) > 64<<10 {
			b = b[:64<<10]
		}
		if !p.paused && p.pause > 0 && p.read >= p.size/2 {
			p.paused = true
			time.Sleep(p.pause)
		}
		due := p.start.Add(time.Duration(float64(p.read) / float64(p.throttle) * float64(time.Second)))
		if p.paused {
			due = due.Add(p.pause)
		}
		time.Sleep(time.Until(due))
	}
	p.rng.Read(b)
	p.sum.Write(b)
	p.read += int64(len(b))
	p.sent.Store(p.read)
	return len(b), nil
}

func (p *payload) hexSum() string { return hex.EncodeToString(p.sum.Sum(nil)) }

// upload puts content as a draft's file and commits it; it returns the
// HTTP status of the upload (the commit only runs after a 200).
func (a *api) upload(ctx context.Context, id, key string, content io.Reader, size int64) (int, string) {
	a.T().Helper()
	a.do(ctx, "POST", "/api/records/"+id+"/draft/files", []any{map[string]any{"key": key}}, http.StatusCreated, nil)
	req, err := http.NewRequestWithContext(ctx, "PUT", a.in().URL("/api/records/"+id+"/draft/files/"+key+"/content"), content)
	if err != nil {
		a.T().Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := a.in().client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(b)
	}
	a.do(ctx, "POST", "/api/records/"+id+"/draft/files/"+key+"/commit", nil, http.StatusOK, nil)
	return resp.StatusCode, string(b)
}

// download reads a published record's file and returns its SHA-256;
// pace, when set, reads it at that many bytes per second with a pause.
func (a *api) download(ctx context.Context, id, key string, pace int64, pause time.Duration) (string, int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.in().URL("/api/records/"+id+"/files/"+key+"/content"), nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := a.in().client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(string(b), 300))
	}
	sum := sha256.New()
	var n int64
	buf := make([]byte, 32<<10)
	start, paused := time.Now(), false
	for {
		if pace > 0 {
			if !paused && pause > 0 && n >= resp.ContentLength/2 {
				paused = true
				time.Sleep(pause)
				start = start.Add(pause)
			}
			time.Sleep(time.Until(start.Add(time.Duration(float64(n) / float64(pace) * float64(time.Second)))))
		}
		k, err := resp.Body.Read(buf)
		sum.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", n, err
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), n, nil
}

// publish publishes a draft.
func (a *api) publish(ctx context.Context, id string) {
	a.T().Helper()
	a.do(ctx, "POST", "/api/records/"+id+"/draft/actions/publish", nil, http.StatusAccepted, nil)
}

// search returns the ids of published records matching q.
func (a *api) search(ctx context.Context, q string) []string {
	a.T().Helper()
	var res struct {
		Hits struct {
			Hits []struct{ ID string }
		}
	}
	a.do(ctx, "GET", "/api/records?q="+urlQuery(q), nil, http.StatusOK, &res)
	var ids []string
	for _, h := range res.Hits.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func urlQuery(q string) string {
	r := strings.NewReplacer(" ", "+", "\"", "%22", ":", "%3A")
	return r.Replace(q)
}
