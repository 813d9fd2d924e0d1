package invenio

import (
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
)

// Restore is the Job that restores an empty environment from its backups
// (backup.restore.enabled; docs/backup.md#restore-into-a-new-environment).
const Restore = "restore"

// restoreFetchDir is where the snapshot repository is fetched back to, on
// the volume OpenSearch reads snapshots from.
const restoreFetchDir = snapshotsPath + "/restore"

// restore restores the latest backups into the environment when its
// database is empty, and does nothing otherwise: a guard step looks at
// the database first and the other steps run only on its word. Files and
// indices come back first, the database last and in one transaction, so
// that the database holding tables means the restore has ended: the setup
// Job, which finds the restored install record and upgrades it, waits for
// that (setup.sh, PLATFORM_RESTORE). It lives in the app layer, beside
// the files volume it writes. Each step writes PASS/FAIL; the last
// container prints them and fails the Job unless every step passed.
func (x env) restore() *component.Component {
	c := x.backupComponent(Restore, component.LayerApp)
	b := x.e.Backup
	c.Calls = []component.Call{{To: PostgreSQL, Port: "postgresql"}, {To: OpenSearch, Port: "http"}}
	data := map[string]string{
		"restic-fetch.sh":         script("restic-fetch.sh"),
		"restore-database.sh":     script("restore-database.sh"),
		"restore-check-report.sh": script("restore-check-report.sh"),
		"restore-lib.sh":          script("restore-lib.sh"),
	}
	if b.FilesOn() {
		data["restore-files.sh"] = script("restore-files.sh")
	}
	if b.OpenSearchOn() {
		data["restore-opensearch.sh"] = script("restore-opensearch.sh")
	}
	conf := x.configMap(c, Restore+"-scripts", data)
	results := component.Env("RESULTS", workPath+"/results")
	markPath := workPath + "/restore-this" // the guard's word: restore
	mark := component.Env("RESTORE_MARK", markPath)
	fetchDir := workPath + "/restore"
	expected := []string{"guard"}

	database := func(mode string) corev1.Container {
		db := x.e.Database
		name := "guard"
		if mode == "restore" {
			name = "database"
		}
		ctr := component.Container(name, x.e.Images.PostgreSQL.Ref(), b.Resources)
		ctr.Command = []string{"sh", scriptsPath + "/restore-database.sh"}
		ctr.Env = []corev1.EnvVar{
			component.Env("PGHOST", PostgreSQL),
			component.Env("PGPORT", "5432"),
			component.Env("PGUSER", string(db.User)),
			component.SecretEnv("PGPASSWORD", string(x.e.Secrets.PostgreSQL), PasswordKey),
			component.Env("PGDATABASE", string(db.Name)),
			component.Env("MODE", mode), mark, results,
		}
		ctr.VolumeMounts = []corev1.VolumeMount{
			component.Mount("work", workPath),
			component.ReadOnlyMount("scripts", scriptsPath),
			component.Mount("tmp", "/tmp"),
		}
		return ctr
	}
	steps := []corev1.Container{database("guard")}
	// Every restic step has the same target volumes: kept once.
	fetch, volumes := x.resticContainer(c, "fetch-postgresql", "restic-fetch.sh", "postgresql")
	if b.FilesOn() {
		files, _ := x.resticContainer(c, "files", "restore-files.sh", "files")
		files.Env = append(files.Env, component.Env("FILES_PATH", filesPath), mark, results)
		files.VolumeMounts = append(files.VolumeMounts, component.Mount("work", workPath), component.Mount("files", filesPath))
		steps = append(steps, files)
		expected = append(expected, "files")
	}
	if b.OpenSearchOn() {
		fetchOS, _ := x.resticContainer(c, "fetch-opensearch", "restic-fetch.sh", "opensearch")
		fetchOS.Env = append(fetchOS.Env, component.Env("FETCH_TARGET", restoreFetchDir), component.Env("ONLY_IF", markPath), results)
		fetchOS.VolumeMounts = append(fetchOS.VolumeMounts, component.Mount("work", workPath), component.Mount("snapshots", snapshotsPath))
		indices := x.opensearchContainer("opensearch", "restore-opensearch.sh", b.Resources)
		indices.Env = append(indices.Env,
			component.Env("RESTORED_DIR", restoreFetchDir+snapshotRepoDir),
			component.Env("INDEX_PREFIX", string(x.e.Search.IndexPrefix)), mark, results)
		indices.VolumeMounts = append(indices.VolumeMounts, component.Mount("work", workPath), component.Mount("snapshots", snapshotsPath))
		steps = append(steps, fetchOS, indices)
		expected = append(expected, "fetch-opensearch", "opensearch")
	}
	fetch.Env = append(fetch.Env, component.Env("FETCH_TARGET", fetchDir), component.Env("ONLY_IF", markPath), results)
	fetch.VolumeMounts = append(fetch.VolumeMounts, component.Mount("work", workPath))
	restore := database("restore")
	restore.Env = append(restore.Env, component.Env("DUMP_DIR", fetchDir+workPath+"/postgresql"))
	if b.FilesOn() {
		restore.Env = append(restore.Env, component.Env("CHECK_FILES", "1"))
		restore.VolumeMounts = append(restore.VolumeMounts, component.ReadOnlyMount("files", filesPath))
	}
	steps = append(steps, fetch, restore)
	expected = append(expected, "fetch-postgresql", "database")

	report := component.Container("report", x.e.Images.Restic.Ref(), b.Resources)
	report.Command = []string{"sh", scriptsPath + "/restore-check-report.sh"}
	report.Env = []corev1.EnvVar{results, component.Env("EXPECTED", strings.Join(expected, " ")), component.Env("REPORT", Restore)}
	report.VolumeMounts = []corev1.VolumeMount{component.Mount("work", workPath), component.ReadOnlyMount("scripts", scriptsPath)}

	volumes = append(volumes, backupVolumes(conf.Name)...)
	if b.FilesOn() {
		volumes = append(volumes, filesVolume())
	}
	if b.OpenSearchOn() {
		volumes = append(volumes, claimVolume("snapshots", snapshotClaim, false))
	}
	// Room for the dump (at most the database's size).
	volumes = append(volumes, component.Scratch("work", x.e.Storage.PostgreSQL.String()))
	spec := component.PodSpec(c, backupUser, []corev1.Container{report}, volumes)
	spec.InitContainers = steps
	spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		TypeMeta:   x.typeMeta("Job"),
		ObjectMeta: x.workloadMeta(c, Restore),
		Spec: batchv1.JobSpec{
			// Every attempt starts again from the guard: a failed database
			// restore is rolled back, files and indices are overwritten.
			BackoffLimit:          ptr(int32(2)),
			ActiveDeadlineSeconds: ptr(int64(restoreDeadline)),
			Template:              x.template(c, spec, map[string]string{"checksum/config": checksum(conf)}),
		},
	}
	// Replaced by Flux when its template changes (resources, image), like
	// the setup Job: a template is immutable, and a new run starts at the
	// guard, which never restores over a finished restore.
	job.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/force": "enabled"}
	c.Objects = []component.Object{conf, job}
	return c
}

// restoreDeadline bounds a restore, every attempt together (seconds): the
// files are the bulk, read back from the backup target at its speed (at
// 50 MB/s about 4 TB a day); the setup Job waits as long for it.
const restoreDeadline = 24 * 3600
