package generator

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
)

// TestBackupFlows: the backup pods reach exactly the database, OpenSearch
// and, with an S3 target, the object store's networks on 443 — nothing
// else but DNS (the NetworkPolicies are derived from these flows and
// TestPoliciesAllowExactlyTheFlows proves they allow no more).
func TestBackupFlows(t *testing.T) {
	p := loadPlatform(t)
	s3 := []string{
		"backup-files → outside:443/TCP",
		"backup-opensearch → opensearch:9200/TCP",
		"backup-opensearch → outside:443/TCP",
		"backup-postgresql → outside:443/TCP",
		"backup-postgresql → postgresql:5432/TCP",
		"restore-check → opensearch:9200/TCP",
		"restore-check → outside:443/TCP",
	}
	for _, tc := range []struct {
		env  string
		want []string
	}{
		{"dev", []string{
			"backup-opensearch → opensearch:9200/TCP",
			"backup-postgresql → postgresql:5432/TCP",
			"restore-check → opensearch:9200/TCP",
		}},
		{"test", s3},
		{"prod", s3},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cs := envComponents(t, p, tc.env)
			var got []string
			for _, f := range network.Flows(cs) {
				if (strings.HasPrefix(f.From, "backup-") || f.From == "restore-check") && f.To != network.KubeDNS {
					got = append(got, f.String())
				}
				if f.To == network.Outside && f.Port == 443 && strings.HasPrefix(f.From, "backup-") {
					for _, c := range cs {
						if c.Name == f.From && len(c.External) != 1 {
							t.Errorf("%s: %d external destinations", c.Name, len(c.External))
						}
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("backup flows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBackupSwitches: each switch of backup: adds or removes exactly its
// part, and the restore check checks only what is backed up.
func TestBackupSwitches(t *testing.T) {
	p := loadPlatform(t)
	prod, err := Environment(p, "prod")
	if err != nil {
		t.Fatal(err)
	}
	off := false
	for _, tc := range []struct {
		name     string
		change   func(b *config.Backup)
		parts    []string // backup components
		expected string   // EXPECTED of the restore check
		pathRepo bool     // OpenSearch has the snapshot volume
	}{
		{"everything", func(*config.Backup) {},
			[]string{"backup-files", "backup-opensearch", "backup-postgresql", "restore-check"},
			"fetch-postgresql database files fetch-opensearch opensearch", true},
		{"no files", func(b *config.Backup) { b.Files = &off },
			[]string{"backup-opensearch", "backup-postgresql", "restore-check"},
			"fetch-postgresql database fetch-opensearch opensearch", true},
		{"no opensearch", func(b *config.Backup) { b.OpenSearch = &off },
			[]string{"backup-files", "backup-postgresql", "restore-check"},
			"fetch-postgresql database files", false},
		{"no restore check", func(b *config.Backup) { b.RestoreCheck.Enabled = &off },
			[]string{"backup-files", "backup-opensearch", "backup-postgresql"}, "", true},
		{"volume target", func(b *config.Backup) {
			b.Target = config.BackupTarget{Volume: config.VolumeTarget{StorageClass: "nfs-backup", Size: config.Q("1Ti")}}
		}, []string{"backup-files", "backup-opensearch", "backup-postgresql", "backup-volume", "restore-check"},
			"fetch-postgresql database files fetch-opensearch opensearch", true},
		{"off", func(b *config.Backup) { b.Enabled = &off }, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := prod
			e.Backup.Files, e.Backup.OpenSearch, e.Backup.RestoreCheck.Enabled = nil, nil, nil
			tc.change(&e.Backup)
			cs, err := Components(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			expected := ""
			pathRepo := false
			for _, c := range cs {
				if c.Role == "backup" {
					parts = append(parts, c.Name)
				}
				for _, o := range c.Objects {
					switch x := o.(type) {
					case *batchv1.CronJob:
						if x.Name == "restore-check" {
							for _, ctr := range x.Spec.JobTemplate.Spec.Template.Spec.Containers {
								for _, v := range ctr.Env {
									if v.Name == "EXPECTED" {
										expected = v.Value
									}
								}
							}
						}
					case *corev1.ConfigMap:
						if x.Name == "opensearch-config" {
							pathRepo = strings.Contains(x.Data["opensearch.yml"], "path.repo:")
						}
					}
				}
			}
			sort.Strings(parts)
			if diff := cmp.Diff(tc.parts, parts); diff != "" {
				t.Errorf("backup parts (-want +got):\n%s", diff)
			}
			if expected != tc.expected {
				t.Errorf("restore check expects %q, want %q", expected, tc.expected)
			}
			if pathRepo != tc.pathRepo {
				t.Errorf("OpenSearch path.repo set: %v, want %v", pathRepo, tc.pathRepo)
			}
		})
	}
}

// TestRestoreJob: backup.restore adds the restore Job, whose steps follow
// what is backed up (the database last: the setup Job waits for it), makes
// the setup Job wait for it within a deadline that covers it, and suspends
// the backups meanwhile (a backup of the half-restored instance would
// become the latest); the other CronJobs run.
func TestRestoreJob(t *testing.T) {
	p := loadPlatform(t)
	prod, err := Environment(p, "prod")
	if err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	for _, tc := range []struct {
		name      string
		change    func(b *config.Backup)
		steps     string // the Job's init containers, in order; "" no Job
		expected  string // EXPECTED of its report
		deadline  int64  // of the setup Job
		suspended []string
	}{
		{"everything", func(b *config.Backup) { b.Restore.Enabled = &on },
			"guard files fetch-opensearch opensearch fetch-postgresql database",
			"guard files fetch-opensearch opensearch fetch-postgresql database", 3600 + 24*3600,
			[]string{"backup-files", "backup-opensearch", "backup-postgresql", "restore-check"}},
		{"no files backup", func(b *config.Backup) { b.Restore.Enabled = &on; b.Files = &off },
			"guard fetch-opensearch opensearch fetch-postgresql database",
			"guard fetch-opensearch opensearch fetch-postgresql database", 3600 + 24*3600,
			[]string{"backup-opensearch", "backup-postgresql", "restore-check"}},
		{"no opensearch backup", func(b *config.Backup) { b.Restore.Enabled = &on; b.OpenSearch = &off },
			"guard files fetch-postgresql database", "guard files fetch-postgresql database", 3600 + 24*3600,
			[]string{"backup-files", "backup-postgresql", "restore-check"}},
		{"off", func(b *config.Backup) {}, "", "", 3600, nil},
		{"backups off", func(b *config.Backup) { b.Restore.Enabled = &on; b.Enabled = &off }, "", "", 3600, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := prod
			e.Backup.Files, e.Backup.OpenSearch = nil, nil
			tc.change(&e.Backup)
			cs, err := Components(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var steps, suspended []string
			expected, restoreEnv := "", ""
			var deadline int64
			for _, c := range cs {
				for _, o := range c.Objects {
					if cj, ok := o.(*batchv1.CronJob); ok && cj.Spec.Suspend != nil && *cj.Spec.Suspend {
						suspended = append(suspended, cj.Name)
					}
					job, ok := o.(*batchv1.Job)
					if !ok {
						continue
					}
					spec := job.Spec.Template.Spec
					switch job.Name {
					case "restore":
						for _, ctr := range spec.InitContainers {
							steps = append(steps, ctr.Name)
						}
						for _, v := range spec.Containers[0].Env {
							if v.Name == "EXPECTED" {
								expected = v.Value
							}
						}
					case "invenio-setup":
						deadline = *job.Spec.ActiveDeadlineSeconds
						for _, v := range spec.Containers[0].Env {
							if v.Name == "PLATFORM_RESTORE" {
								restoreEnv = v.Value
							}
						}
					}
				}
			}
			if got := strings.Join(steps, " "); got != tc.steps {
				t.Errorf("restore steps %q, want %q", got, tc.steps)
			}
			if expected != tc.expected {
				t.Errorf("the report expects %q, want %q", expected, tc.expected)
			}
			if want := map[bool]string{true: "1"}[tc.steps != ""]; restoreEnv != want {
				t.Errorf("setup Job PLATFORM_RESTORE=%q, want %q", restoreEnv, want)
			}
			if deadline != tc.deadline {
				t.Errorf("setup Job deadline %d s, want %d", deadline, tc.deadline)
			}
			sort.Strings(suspended)
			if diff := cmp.Diff(tc.suspended, suspended); diff != "" {
				t.Errorf("suspended CronJobs (-want +got):\n%s", diff)
			}
		})
	}
}
