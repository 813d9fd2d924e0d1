package invenio

import (
	_ "embed"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// LargestFilesSQL is the largest-files report's query (psql variable :top).
//
//go:embed largest-files.sql
var LargestFilesSQL string

// LargestFilesReport is the report's component and CronJob name.
const LargestFilesReport = "report-largest-files"

// LargestFilesArgs are psql's arguments for the report, file being the
// path of LargestFilesSQL: the CronJob and the test that runs the query
// against a real PostgreSQL use the same.
func LargestFilesArgs(file string, top int) []string {
	return []string{"--no-psqlrc", "--set=ON_ERROR_STOP=1", fmt.Sprintf("--set=top=%d", top), "--file=" + file}
}

var reportResources = config.Resources{
	Requests: config.CPUMemory{CPU: config.Q("50m"), Memory: config.Q("64Mi")},
	// Small enough that dev still fits its 12-CPU budget while it runs.
	Limits: config.CPUMemory{CPU: config.Q("250m"), Memory: config.Q("256Mi")},
}

// largestFilesReport runs the largest-files query on schedule with the
// PostgreSQL image's psql, as the application's role, and prints the
// report to the Job's log (docs/operations.md says why there).
func (x env) largestFilesReport() *component.Component {
	r := x.e.Reports.LargestFiles
	c := &component.Component{Name: LargestFilesReport, Role: "report", Layer: component.LayerApp, HasPods: true,
		Version: string(x.e.Images.PostgreSQL.Tag),
		Calls:   []component.Call{{To: PostgreSQL, Port: "postgresql"}}}
	conf := x.configMap(c, LargestFilesReport, map[string]string{"largest-files.sql": LargestFilesSQL})
	ctr := component.Container("psql", x.e.Images.PostgreSQL.Ref(), reportResources)
	ctr.Command = append([]string{"psql"}, LargestFilesArgs("/etc/report/largest-files.sql", int(r.Top))...)
	db := x.e.Database
	ctr.Env = []corev1.EnvVar{
		component.Env("PGHOST", PostgreSQL),
		component.Env("PGPORT", "5432"),
		component.Env("PGDATABASE", string(db.Name)),
		component.Env("PGUSER", string(db.User)),
		component.Env("PGAPPNAME", LargestFilesReport),
		component.SecretEnv("PGPASSWORD", string(x.e.Secrets.PostgreSQL), PasswordKey),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{component.ReadOnlyMount("sql", "/etc/report")}
	spec := component.PodSpec(c, component.User{UID: 999, GID: 999}, []corev1.Container{ctr},
		[]corev1.Volume{component.ConfigMapVolume("sql", conf.Name, 0o444)})
	// The backups' CronJob shape (never two at once, UTC, history kept);
	// a report that has not finished in half an hour is stuck.
	cj := x.cronJob(c, r.Schedule, 1800, spec, map[string]string{"checksum/config": checksum(conf)})
	c.Objects = []component.Object{conf, cj}
	return c
}
