//go:build runtime

package runtimetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// secretValue is a key of an unsealed Secret of the current revision.
func (pe *platformEnv) secretValue(name, key string) string {
	for _, s := range pe.secrets {
		if s.Name == name {
			return string(s.Data[key])
		}
	}
	pe.t.Fatalf("no Secret %s", name)
	return ""
}

// credentialCheck logs in to PostgreSQL, Redis and RabbitMQ from the web
// API's container with each password given and reports, per server and
// password, "ok" or the server's refusal.
const credentialCheck = `
import json, sys
import psycopg2, redis, kombu
req = json.load(sys.stdin)
out = {}
for name, pw in req["postgresql"].items():
    try:
        psycopg2.connect(host="postgresql", port=5432, user=req["dbUser"], password=pw, dbname=req["dbName"], connect_timeout=10).close()
        out["postgresql/" + name] = "ok"
    except Exception as e:
        out["postgresql/" + name] = str(e).strip().splitlines()[0]
for name, pw in req["redis"].items():
    try:
        redis.Redis(host="redis", port=6379, password=pw, socket_timeout=10).ping()
        out["redis/" + name] = "ok"
    except Exception as e:
        out["redis/" + name] = type(e).__name__ + ": " + str(e)
for name, pw in req["rabbitmq"].items():
    try:
        c = kombu.Connection("amqp://invenio:%s@rabbitmq:5672/invenio" % pw, connect_timeout=10)
        c.connect()
        c.release()
        out["rabbitmq/" + name] = "ok"
    except Exception as e:
        out["rabbitmq/" + name] = type(e).__name__ + ": " + str(e)
print(json.dumps(out, sort_keys=True))
`

// rotation: the PostgreSQL, Redis and RabbitMQ passwords rotated as an
// operator does (`platformctl secrets rotate` + `generate`), the new
// revision rolled out: each server takes the new password (B) and refuses
// the old one (A), and every workload that reads them works after its
// restart.
func (pe *platformEnv) rotation(ctx context.Context, a *api) {
	t := pe.t
	secrets := map[string]string{"postgresql": string(pe.env.Secrets.PostgreSQL), "redis": string(pe.env.Secrets.Redis), "rabbitmq": string(pe.env.Secrets.RabbitMQ)}
	old := map[string]string{}
	for server, s := range secrets {
		old[server] = pe.secretValue(s, "password")
		pe.repo.CLI(t, "secrets", "rotate", pe.name, s+"/password")
	}
	pe.repo.CLI(t, "generate", "-q")
	t0 := time.Now()
	changed := pe.rollout(ctx)
	for _, want := range []string{"StatefulSet/postgresql", "StatefulSet/redis", "StatefulSet/rabbitmq", "Deployment/web-ui", "Deployment/web-api", "Deployment/worker", "Deployment/beat"} {
		if !contains(changed, want) {
			t.Errorf("the rotation did not restart %s (restarted: %v)", want, changed)
		}
	}
	req := map[string]any{"dbUser": string(pe.env.Database.User), "dbName": string(pe.env.Database.Name)}
	for server, s := range secrets {
		req[server] = map[string]string{"A": old[server], "B": pe.secretValue(s, "password")}
	}
	in, _ := json.Marshal(req)
	res, err := pe.pod("Deployment/web-api").Exec(ctx, "web-api", in, "python", "-c", credentialCheck)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("credential check: %v %s%s", err, res.Stdout, res.Stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(lastLine(res.Stdout)), &got); err != nil {
		t.Fatalf("credential check: %v: %s", err, res.Stdout)
	}
	var lines []string
	for k, v := range got {
		lines = append(lines, k+": "+v)
		wantOK := strings.HasSuffix(k, "/B")
		if (v == "ok") != wantOK {
			t.Errorf("%s after the rotation: %s (want %s)", k, v, map[bool]string{true: "ok", false: "refused"}[wantOK])
		}
	}
	sort.Strings(lines)
	figures.add(t, "rotation of the PostgreSQL, Redis and RabbitMQ passwords rolled out in %s; A = old, B = new:\n    %s", time.Since(t0).Round(time.Second), strings.Join(lines, "\n    "))
	// Every reader works: the API reads and writes the database, searches,
	// and the worker answers through the broker.
	a.do(ctx, "GET", "/api/records/"+pe.record, nil, 200, nil)
	a.newDraft(ctx, fmt.Sprintf("After rotation %d", time.Now().UnixNano()))
	if ids := a.search(ctx, "\""+pe.recordTitle+"\""); len(ids) != 1 {
		t.Errorf("search after the rotation: %v", ids)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// backups: the backup CronJobs' Jobs back the instance up with restic to
// the environment's backup target and the monthly restore check passes on
// it; after an uploaded file is corrupted on the files volume and backed
// up, the restore check fails and says which file.
func (pe *platformEnv) backups(ctx context.Context) {
	t := pe.t
	var times []string
	for _, cj := range []string{"backup-postgresql", "backup-files", "backup-opensearch", "restore-check"} {
		t0 := time.Now()
		run, err := pe.node.RunCronJob(ctx, cj)
		if err != nil {
			t.Fatal(err)
		}
		last := run.Pods[len(run.Pods)-1]
		if !run.Succeeded {
			t.Fatalf("CronJob %s: %s\n%s", cj, run.Reason, pe.logsOf(last))
		}
		times = append(times, fmt.Sprintf("%s %s", cj, time.Since(t0).Round(time.Second)))
	}
	figures.add(t, "backups to the local restic repository, then the restore check: %s", strings.Join(times, ", "))
	// Corrupt one uploaded file (the smallest), back it up, check.
	victim := smallestFile(pe.node.ClaimDir("invenio-files"))
	if victim == "" {
		t.Fatal("no uploaded file on the files volume")
	}
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if run, err := pe.node.RunCronJob(ctx, "backup-files"); err != nil || !run.Succeeded {
		t.Fatalf("backup-files after the corruption: %v %s", err, run.Reason)
	}
	run, err := pe.node.RunCronJob(ctx, "restore-check")
	if err != nil {
		t.Fatal(err)
	}
	if run.Succeeded {
		t.Fatalf("the restore check passed on a backup holding a corrupted file (%s)", victim)
	}
	logs := ""
	for _, p := range run.Pods {
		files, _ := filepath.Glob(filepath.Join(p.Dir(), "logs", "*.log"))
		for _, f := range files {
			c, _ := os.ReadFile(f)
			logs += string(c)
		}
	}
	rel, _ := filepath.Rel(pe.node.ClaimDir("invenio-files"), victim)
	if !strings.Contains(logs, filepath.Base(filepath.Dir(rel))) && !strings.Contains(logs, rel) {
		t.Errorf("the failed restore check does not name the corrupted file %s:\n%s", rel, truncate(logs, 3000))
	}
	figures.add(t, "restore check on a backup with %s corrupted: failed, as it must", rel)
	// Put right again: a later restore takes the next backups.
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallestFile is the smallest regular file below dir.
func smallestFile(dir string) string {
	best, size := "", int64(-1)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && (size < 0 || fi.Size() < size) {
			best, size = p, fi.Size()
		}
		return nil
	})
	return best
}
