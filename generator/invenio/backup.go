package invenio

import (
	"embed"
	"fmt"
	"path"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// Backups (docs/backup.md). Each part is an optional component, so that an
// environment switches each on or off and base/ stays without them:
//
//   - backup-postgresql: pg_dump (the server's own image) with a manifest,
//     then restic puts it into the target and enforces retention;
//   - backup-files: restic, incremental, of the uploaded-files volume;
//   - backup-opensearch: a snapshot of every index into an fs repository
//     on a volume OpenSearch shares with the job, which restic takes off
//     the cluster; the repository is registered by its own Job too;
//   - restore-check: monthly, restores the latest backups into a
//     throw-away PostgreSQL inside its own pod and checks them;
//   - backup-volume: the volume target, when there is no S3 bucket.
//
// The job names match backup-.* for alerting; the scripts are files of
// this package (scripts/), tested for real in backup_scripts_test.go.
const (
	BackupPostgreSQL = "backup-postgresql"
	BackupFiles      = "backup-files"
	BackupOpenSearch = "backup-opensearch"
	RestoreCheck     = "restore-check"
	BackupVolume     = "backup-volume"
	// SnapshotRepositoryJob registers OpenSearch's snapshot repository.
	SnapshotRepositoryJob = "opensearch-snapshot-repository"
)

// Keys of the backup Secret. The restic password encrypts every backup;
// the S3 access key is the operator's (the bucket is theirs).
const (
	ResticPasswordKey    = "restic-password"
	S3AccessKeyIDKey     = "s3-access-key-id"
	S3SecretAccessKeyKey = "s3-secret-access-key"
)

//go:embed scripts/*.sh scripts/*.py
var scripts embed.FS

func script(name string) string {
	b, err := scripts.ReadFile("scripts/" + name)
	if err != nil {
		panic(err) // a missing embedded file is a build defect
	}
	return string(b)
}

// Paths inside the backup pods.
const (
	backupMount      = "/backup"                         // the volume target
	snapshotsPath    = "/usr/share/opensearch/snapshots" // path.repo, the same in OpenSearch and the jobs
	snapshotRepoDir  = snapshotsPath + "/repository"
	snapshotFetchDir = snapshotsPath + "/restore-check"
	workPath         = "/work"
	scriptsPath      = "/scripts"
	snapshotClaim    = "opensearch-snapshots"
	backupClaim      = "backup-target"
	snapshotRepo     = "backup"
	// OpenSearch keeps two snapshots on its volume; the off-cluster copies
	// (restic) are kept for backup.keepDaily days.
	localSnapshots = 2
)

// Every backup pod runs as uid/gid 1000 (the owner of the uploaded files
// and OpenSearch's user), so that the volumes they share never change
// group owner between pods. The throw-away PostgreSQL of the restore check
// runs as the image's postgres user (initdb needs a passwd entry).
var (
	backupUser   = component.User{UID: 1000, GID: 1000}
	postgresUser = int64(999)
)

// backupComponent is the skeleton of one backup part.
func (x env) backupComponent(name string, layer component.Layer) *component.Component {
	return &component.Component{Name: name, Role: "backup", Layer: layer, Optional: true, HasPods: true,
		Version: string(x.e.Images.Restic.Tag)}
}

// backupTarget says where restic keeps the repository of one kind of
// backup, with the credentials it needs, and lets c reach it.
func (x env) backupTarget(c *component.Component, kind string) (env []corev1.EnvVar, mounts []corev1.VolumeMount, volumes []corev1.Volume) {
	b := x.e.Backup
	secret := string(x.e.Secrets.Backup)
	env = []corev1.EnvVar{component.SecretEnv("RESTIC_PASSWORD", secret, ResticPasswordKey)}
	// Validation leaves exactly one target; base/ renders an S3
	// placeholder (see SetOptional), so S3 wins where both are set.
	if !b.Target.IsS3() {
		env = append(env, component.Env("RESTIC_REPOSITORY", path.Join(backupMount, kind)))
		mounts = []corev1.VolumeMount{component.Mount("backup", backupMount)}
		volumes = []corev1.Volume{claimVolume("backup", backupClaim, false)}
		return env, mounts, volumes
	}
	s3 := b.Target.S3
	repo := strings.TrimSuffix(string(s3.Endpoint), "/") + "/" + path.Join(string(s3.Bucket), string(s3.Prefix), kind)
	region := s3.Region
	if region == "" {
		region = "us-east-1"
	}
	env = append(env,
		component.Env("RESTIC_REPOSITORY", "s3:"+repo),
		component.SecretEnv("AWS_ACCESS_KEY_ID", secret, S3AccessKeyIDKey),
		component.SecretEnv("AWS_SECRET_ACCESS_KEY", secret, S3SecretAccessKeyKey),
		component.Env("AWS_DEFAULT_REGION", region))
	var cidrs []string
	for _, n := range s3.EgressCIDRs {
		cidrs = append(cidrs, string(n))
	}
	if len(c.External) == 0 {
		c.External = append(c.External, component.External{Why: "backup target: S3 object store (HTTPS)", CIDRs: cidrs, Port: 443})
	}
	return env, mounts, volumes
}

func claimVolume(name, claim string, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: readOnly}}}
}

// resticContainer runs one of the scripts in the restic image.
func (x env) resticContainer(c *component.Component, name, run, kind string) (corev1.Container, []corev1.Volume) {
	ctr := component.Container(name, x.e.Images.Restic.Ref(), x.e.Backup.Resources)
	ctr.Command = []string{"sh", scriptsPath + "/" + run}
	env, mounts, volumes := x.backupTarget(c, kind)
	// The target's variables last: an environment with another kind of
	// target then patches only the tail of the list.
	ctr.Env = append([]corev1.EnvVar{
		component.Env("RESTIC_CACHE_DIR", "/cache"),
		// One series per kind of backup, whichever pod takes it.
		component.Env("BACKUP_HOST", string(x.site.Name)),
		component.Env("BACKUP_TAG", kind),
		component.Env("KEEP_DAILY", fmt.Sprint(x.e.Backup.KeepDaily))}, env...)
	ctr.VolumeMounts = append(mounts,
		component.ReadOnlyMount("scripts", scriptsPath),
		component.Mount("cache", "/cache"),
		component.Mount("tmp", "/tmp"))
	return ctr, volumes
}

// backupVolumes are the volumes every backup pod has: its scripts and
// scratch space for restic's cache and temporary files.
func backupVolumes(scriptsConfigMap string) []corev1.Volume {
	return []corev1.Volume{
		component.ConfigMapVolume("scripts", scriptsConfigMap, 0o555),
		component.Scratch("cache", "2Gi"),
		component.Scratch("tmp", "1Gi"),
	}
}

// cronJob runs spec on schedule: never two at once, retried twice, given
// up after deadline; a missed start (controller down) is made up within
// the hour. No TTL: the CronJob keeps the last runs for inspection.
func (x env) cronJob(c *component.Component, schedule config.Cron, deadline int64, spec corev1.PodSpec, annotations map[string]string) *batchv1.CronJob {
	spec.RestartPolicy = corev1.RestartPolicyNever
	tz := "Etc/UTC"
	// While the environment restores from its backups, none is taken: a
	// backup of the empty or half-restored instance would become the
	// "latest" a retry of the restore reads (restore.go). The operator
	// switches backup.restore off once it has ended; InvenioBackupMissing
	// fires after 26 hours if not.
	var suspend *bool
	if x.e.Backup.RestoreOn() && c.Role == "backup" {
		suspend = ptr(true)
	}
	return &batchv1.CronJob{
		TypeMeta:   x.typeMeta("CronJob"),
		ObjectMeta: x.workloadMeta(c, c.Name),
		Spec: batchv1.CronJobSpec{
			Schedule:                   string(schedule),
			Suspend:                    suspend,
			TimeZone:                   &tz,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr(int64(3600)),
			SuccessfulJobsHistoryLimit: ptr(int32(3)),
			FailedJobsHistoryLimit:     ptr(int32(3)),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				BackoffLimit:          ptr(int32(2)),
				ActiveDeadlineSeconds: ptr(deadline),
				Template:              x.template(c, spec, annotations),
			}},
		},
	}
}

const sixHours = 6 * 3600

// backupPostgreSQL dumps the database every day and uploads it.
func (x env) backupPostgreSQL() *component.Component {
	c := x.backupComponent(BackupPostgreSQL, component.LayerData)
	c.Calls = []component.Call{{To: PostgreSQL, Port: "postgresql"}}
	conf := x.configMap(c, BackupPostgreSQL+"-scripts", map[string]string{
		"pg-dump.sh":       script("pg-dump.sh"),
		"restic-backup.sh": script("restic-backup.sh"),
	})
	db := x.e.Database
	dumpDir := workPath + "/postgresql"
	// pg_dump of the server's own image: the major versions must match.
	dump := component.Container("dump", x.e.Images.PostgreSQL.Ref(), x.e.Backup.Resources)
	dump.Command = []string{"sh", scriptsPath + "/pg-dump.sh"}
	dump.Env = []corev1.EnvVar{
		component.Env("PGHOST", PostgreSQL),
		component.Env("PGPORT", "5432"),
		component.Env("PGUSER", string(db.User)),
		component.SecretEnv("PGPASSWORD", string(x.e.Secrets.PostgreSQL), PasswordKey),
		component.Env("PGDATABASE", string(db.Name)),
		component.Env("DUMP_DIR", dumpDir),
		component.Env("MAIN_TABLES", strings.Join(MainTables, " ")),
		component.Env("INVENIO_VERSION", string(x.e.Image.Tag)),
	}
	dump.VolumeMounts = []corev1.VolumeMount{
		component.Mount("work", workPath),
		component.ReadOnlyMount("scripts", scriptsPath),
		component.Mount("tmp", "/tmp"),
	}
	upload, volumes := x.resticContainer(c, "upload", "restic-backup.sh", "postgresql")
	upload.Env = append(upload.Env, component.Env("BACKUP_PATH", dumpDir))
	upload.VolumeMounts = append(upload.VolumeMounts, component.ReadOnlyMount("work", workPath))
	// The dump is at most the size of the database volume.
	volumes = append(volumes, backupVolumes(conf.Name)...)
	volumes = append(volumes, component.Scratch("work", x.e.Storage.PostgreSQL.String()))
	spec := component.PodSpec(c, backupUser, []corev1.Container{upload}, volumes)
	spec.InitContainers = []corev1.Container{dump}
	cj := x.cronJob(c, x.e.Backup.Schedule, sixHours, spec, map[string]string{"checksum/config": checksum(conf)})
	c.Objects = []component.Object{conf, cj}
	return c
}

// backupFiles backs up the uploaded-files volume, incrementally. The
// volume is ReadWriteMany (cephfs), so the job mounts it read-only on any
// node while the application keeps writing; restic reads each file once
// and stores only new chunks.
func (x env) backupFiles() *component.Component {
	c := x.backupComponent(BackupFiles, component.LayerApp)
	conf := x.configMap(c, BackupFiles+"-scripts", map[string]string{"restic-backup.sh": script("restic-backup.sh")})
	ctr, volumes := x.resticContainer(c, "backup", "restic-backup.sh", "files")
	// Backed up under the path the application stores them at, so that
	// files_files.uri names them in the backup too.
	ctr.Env = append(ctr.Env, component.Env("BACKUP_PATH", filesPath))
	ctr.VolumeMounts = append(ctr.VolumeMounts, component.ReadOnlyMount("files", filesPath))
	volumes = append(volumes, backupVolumes(conf.Name)...)
	volumes = append(volumes, claimVolume("files", "invenio-files", true))
	spec := component.PodSpec(c, backupUser, []corev1.Container{ctr}, volumes)
	cj := x.cronJob(c, x.e.Backup.Schedule, sixHours, spec, map[string]string{"checksum/config": checksum(conf)})
	c.Objects = []component.Object{conf, cj}
	return c
}

// statsIndices are the patterns of InvenioRDM's statistics indices: they
// exist only in OpenSearch (the database cannot rebuild them).
func (x env) statsIndices() string {
	p := string(x.e.Search.IndexPrefix)
	return p + "-events-stats-*," + p + "-stats-*"
}

// opensearchContainer runs one of the scripts with curl in the OpenSearch
// image (already on the nodes; its curl speaks to the HTTP API).
func (x env) opensearchContainer(name, run string, r config.Resources) corev1.Container {
	ctr := component.Container(name, x.e.Images.OpenSearch.Ref(), r)
	ctr.Command = []string{"sh", scriptsPath + "/" + run}
	ctr.Env = []corev1.EnvVar{
		component.Env("OPENSEARCH_URL", "http://"+OpenSearch+":9200"),
		component.Env("STATS_INDICES", x.statsIndices()),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{component.ReadOnlyMount("scripts", scriptsPath), component.Mount("tmp", "/tmp")}
	return ctr
}

// registrationResources size the repository Job: one curl call.
var registrationResources = config.Resources{
	Requests: config.CPUMemory{CPU: config.Q("50m"), Memory: config.Q("64Mi")},
	Limits:   config.CPUMemory{CPU: config.Q("200m"), Memory: config.Q("128Mi")},
}

// backupOpenSearch snapshots every index into an fs repository on a
// ReadWriteMany volume OpenSearch mounts at path.repo, then restic takes
// the repository off the cluster. It lives in the data layer because it
// gives OpenSearch that volume (see opensearch()).
func (x env) backupOpenSearch() *component.Component {
	c := x.backupComponent(BackupOpenSearch, component.LayerData)
	c.Calls = []component.Call{{To: OpenSearch, Port: "http"}}
	conf := x.configMap(c, BackupOpenSearch+"-scripts", map[string]string{
		"opensearch-snapshot.sh": script("opensearch-snapshot.sh"),
		"restic-backup.sh":       script("restic-backup.sh"),
	})
	snapshotEnv := []corev1.EnvVar{
		component.Env("SNAPSHOT_REPOSITORY", snapshotRepo),
		component.Env("SNAPSHOT_DIR", snapshotRepoDir),
		component.Env("KEEP_DAILY", fmt.Sprint(localSnapshots)),
	}
	snap := x.opensearchContainer("snapshot", "opensearch-snapshot.sh", x.e.Backup.Resources)
	snap.Env = append(snap.Env, snapshotEnv...)
	upload, volumes := x.resticContainer(c, "upload", "restic-backup.sh", "opensearch")
	upload.Env = append(upload.Env, component.Env("BACKUP_PATH", snapshotRepoDir))
	upload.VolumeMounts = append(upload.VolumeMounts, component.ReadOnlyMount("snapshots", snapshotsPath))
	volumes = append(volumes, backupVolumes(conf.Name)...)
	volumes = append(volumes, claimVolume("snapshots", snapshotClaim, false))
	spec := component.PodSpec(c, backupUser, []corev1.Container{upload}, volumes)
	spec.InitContainers = []corev1.Container{snap}
	annotations := map[string]string{"checksum/config": checksum(conf)}
	cj := x.cronJob(c, x.e.Backup.Schedule, sixHours, spec, annotations)

	// The repository is registered as soon as OpenSearch runs (and again
	// by every backup): an operator can snapshot by hand from day one.
	reg := x.opensearchContainer("register", "opensearch-snapshot.sh", registrationResources)
	reg.Env = append(reg.Env, snapshotEnv...)
	reg.Env = append(reg.Env, component.Env("MODE", "register"), component.Env("OPENSEARCH_WAIT", "1500"))
	regSpec := component.PodSpec(c, backupUser, []corev1.Container{reg}, []corev1.Volume{
		component.ConfigMapVolume("scripts", conf.Name, 0o555), component.Scratch("tmp", "64Mi")})
	regSpec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		TypeMeta:   x.typeMeta("Job"),
		ObjectMeta: x.workloadMeta(c, SnapshotRepositoryJob),
		Spec: batchv1.JobSpec{
			// The script waits up to 25 minutes for OpenSearch to start
			// (its startup probe allows 10), then a few retries.
			BackoffLimit:          ptr(int32(3)),
			ActiveDeadlineSeconds: ptr(int64(3600)),
			Template:              x.template(c, regSpec, annotations),
		},
	}
	// Replaced by Flux when its template changes, like the setup Job.
	job.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/force": "enabled"}
	pvc := x.claim(x.meta.ObjectMeta(c, snapshotClaim), corev1.ReadWriteMany, string(x.e.Storage.ReadWriteManyClass), x.e.Storage.OpenSearch)
	c.Objects = []component.Object{conf, &pvc, cj, job}
	return c
}

// restoreCheck restores the latest backups once a month and checks them:
// the dump against its manifest and in a throw-away PostgreSQL (row
// counts), a sample of uploaded files against the checksums in the
// restored database, and the statistics indices against the counts taken
// at snapshot time. Each step writes PASS/FAIL; the last container prints
// the summary and fails the Job unless every step passed.
func (x env) restoreCheck() *component.Component {
	c := x.backupComponent(RestoreCheck, component.LayerData)
	b := x.e.Backup
	data := map[string]string{
		"restic-fetch.sh":           script("restic-fetch.sh"),
		"restore-check-database.sh": script("restore-check-database.sh"),
		"restore-check-report.sh":   script("restore-check-report.sh"),
		"restore-lib.sh":            script("restore-lib.sh"),
	}
	if b.FilesOn() {
		data["restore-check-files.sh"] = script("restore-check-files.sh")
	}
	if b.OpenSearchOn() {
		data["restore-check-opensearch.sh"] = script("restore-check-opensearch.sh")
	}
	// Always allowed (a NetworkPolicy cannot come and go with a switch of
	// another part), used only where OpenSearch is backed up.
	c.Calls = []component.Call{{To: OpenSearch, Port: "http"}}
	conf := x.configMap(c, RestoreCheck+"-scripts", data)
	results := component.Env("RESULTS", workPath+"/results")
	sample := component.Env("SAMPLE_LIST", workPath+"/sample")
	fetchDir := workPath + "/restore"
	expected := []string{"fetch-postgresql", "database"}

	fetch, volumes := x.resticContainer(c, "fetch-postgresql", "restic-fetch.sh", "postgresql")
	fetch.Env = append(fetch.Env, component.Env("FETCH_TARGET", fetchDir), results)
	fetch.VolumeMounts = append(fetch.VolumeMounts, component.Mount("work", workPath))

	database := component.Container("database", x.e.Images.PostgreSQL.Ref(), b.Resources)
	database.SecurityContext.RunAsUser = &postgresUser // initdb needs the image's postgres user
	database.Command = []string{"sh", scriptsPath + "/restore-check-database.sh"}
	database.Env = []corev1.EnvVar{
		component.Env("DUMP_DIR", fetchDir+workPath+"/postgresql"),
		component.Env("SCRATCH", workPath+"/scratch"),
		component.Env("SAMPLE_FILES", fmt.Sprint(b.RestoreCheck.SampleFiles)),
		sample, results,
	}
	database.VolumeMounts = []corev1.VolumeMount{
		component.Mount("work", workPath),
		component.ReadOnlyMount("scripts", scriptsPath),
		component.Mount("tmp", "/tmp"),
		component.Mount("shm", "/dev/shm"),
	}
	steps := []corev1.Container{fetch, database}
	if b.FilesOn() {
		files, _ := x.resticContainer(c, "files", "restore-check-files.sh", "files")
		files.Env = append(files.Env, sample, results)
		files.VolumeMounts = append(files.VolumeMounts, component.Mount("work", workPath))
		steps = append(steps, files)
		expected = append(expected, "files")
	}
	if b.OpenSearchOn() {
		// Fetched into the volume OpenSearch reads snapshots from, then
		// registered there as a read-only repository.
		fetchOS, _ := x.resticContainer(c, "fetch-opensearch", "restic-fetch.sh", "opensearch")
		fetchOS.Env = append(fetchOS.Env, component.Env("FETCH_TARGET", snapshotFetchDir), results)
		fetchOS.VolumeMounts = append(fetchOS.VolumeMounts, component.Mount("work", workPath), component.Mount("snapshots", snapshotsPath))
		check := x.opensearchContainer("opensearch", "restore-check-opensearch.sh", b.Resources)
		check.Env = append(check.Env, component.Env("RESTORED_DIR", snapshotFetchDir+snapshotRepoDir), results)
		check.VolumeMounts = append(check.VolumeMounts, component.Mount("work", workPath), component.Mount("snapshots", snapshotsPath))
		steps = append(steps, fetchOS, check)
		expected = append(expected, "fetch-opensearch", "opensearch")
		volumes = append(volumes, claimVolume("snapshots", snapshotClaim, false))
	}
	report := component.Container("report", x.e.Images.Restic.Ref(), b.Resources)
	report.Command = []string{"sh", scriptsPath + "/restore-check-report.sh"}
	report.Env = []corev1.EnvVar{results, component.Env("EXPECTED", strings.Join(expected, " "))}
	report.VolumeMounts = []corev1.VolumeMount{component.Mount("work", workPath), component.ReadOnlyMount("scripts", scriptsPath)}

	volumes = append(volumes, backupVolumes(conf.Name)...)
	// Room for the dump, the restored database and its WAL.
	work := x.e.Storage.PostgreSQL.Quantity.DeepCopy()
	work.Add(x.e.Storage.PostgreSQL.Quantity)
	work.Add(x.e.Storage.PostgreSQL.Quantity)
	volumes = append(volumes, component.Scratch("work", work.String()), component.Scratch("shm", "256Mi"))
	spec := component.PodSpec(c, backupUser, []corev1.Container{report}, volumes)
	spec.InitContainers = steps
	cj := x.cronJob(c, b.RestoreCheck.Schedule, sixHours, spec, map[string]string{"checksum/config": checksum(conf)})
	// A check that fails must say so, not retry until it passes by chance.
	cj.Spec.JobTemplate.Spec.BackoffLimit = ptr(int32(0))
	c.Objects = []component.Object{conf, cj}
	return c
}

// backupVolume is the volume target: a claim on the class the
// description names (e.g. an NFS export outside the cluster). Flux never
// deletes it: it holds the backups.
func (x env) backupVolume() *component.Component {
	c := &component.Component{Name: BackupVolume, Role: "backup", Layer: component.LayerData, Optional: true}
	v := x.e.Backup.Target.Volume
	if !x.e.Backup.Target.IsVolume() { // base/components/backup-volume
		v = config.VolumeTarget{StorageClass: x.e.Storage.ReadWriteManyClass, Size: config.Q("100Gi")}
	}
	meta := x.meta.ObjectMeta(c, backupClaim)
	keepWhenPruned(&meta)
	pvc := x.claim(meta, corev1.ReadWriteMany, string(v.StorageClass), v.Size)
	c.Objects = []component.Object{&pvc}
	return c
}
