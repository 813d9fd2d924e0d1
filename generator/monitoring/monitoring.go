// Package monitoring owns what the Prometheus Operator reads: a
// ServiceMonitor for every metrics endpoint a component declares
// (component.Metrics), and the PrometheusRule with the alerts an operator
// needs first. Objects are the operator's own Go types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring).
// The NetworkPolicy rules that let Prometheus scrape are derived in package
// network from the same declarations.
package monitoring

import (
	"fmt"
	"maps"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"lbl.gov/invenio-gitops/generator/component"
)

// Options say how the environment's Prometheus finds the objects.
type Options struct {
	SelectorLabels map[string]string // put on every object, for the Prometheus' selectors
	Interval       string            // scrape interval, e.g. 30s
}

// Alerts is the component holding the PrometheusRule.
const Alerts = "alerts"

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: kind}
}

func (o Options) objectMeta(meta component.Meta, c *component.Component, name string) metav1.ObjectMeta {
	m := meta.ObjectMeta(c, name)
	maps.Copy(m.Labels, o.SelectorLabels)
	return m
}

// Derive adds a ServiceMonitor to every component that declares metrics:
// it selects the component's Service (derived from the same served port by
// package network) and scrapes each declared port. It fails when a
// declared port is not served.
func Derive(meta component.Meta, opt Options, cs []*component.Component) error {
	for _, c := range cs {
		if len(c.Metrics) == 0 {
			continue
		}
		sm := &monitoringv1.ServiceMonitor{
			TypeMeta:   typeMeta(monitoringv1.ServiceMonitorsKind),
			ObjectMeta: opt.objectMeta(meta, c, c.Name),
			Spec:       monitoringv1.ServiceMonitorSpec{Selector: metav1.LabelSelector{MatchLabels: meta.Selector(c)}},
		}
		for _, m := range c.Metrics {
			if _, ok := c.Port(m.Port); !ok {
				return fmt.Errorf("%s declares metrics on port %q, which it does not serve", c.Name, m.Port)
			}
			sm.Spec.Endpoints = append(sm.Spec.Endpoints, monitoringv1.Endpoint{
				Port: m.Port, Path: m.Path, Interval: monitoringv1.Duration(opt.Interval)})
		}
		c.Objects = append(c.Objects, sm)
	}
	return nil
}

// Rule is one alert.
type Rule struct {
	Alert, Expr, For, Severity, Summary, Runbook string
}

// Rules are the alerts for the namespace ns. Each names what broke and
// where to look first (the runbook annotation; docs/operations.md has the
// longer version). Expressions read kube-state-metrics, the kubelet,
// cert-manager and postgres_exporter.
func Rules(ns string) []Rule {
	return []Rule{
		{"InvenioPodCrashLooping",
			fmt.Sprintf(`max_over_time(kube_pod_container_status_waiting_reason{namespace=%q, reason="CrashLoopBackOff"}[5m]) >= 1`, ns),
			"15m", "critical",
			"Pod {{ $labels.pod }} (container {{ $labels.container }}) is crash-looping",
			"kubectl -n " + ns + " logs --previous {{ $labels.pod }} -c {{ $labels.container }}; then kubectl describe pod for the last state and events."},
		{"InvenioVolumeAlmostFull",
			fmt.Sprintf(`kubelet_volume_stats_available_bytes{namespace=%q} / kubelet_volume_stats_capacity_bytes{namespace=%q} < 0.10`, ns, ns),
			"15m", "warning",
			"Volume {{ $labels.persistentvolumeclaim }} has less than 10% free space",
			"Raise storage.<volume> in platform.yaml (the StorageClasses allow expansion), make generate, commit; or delete what fills it."},
		{"InvenioVolumeFull",
			fmt.Sprintf(`kubelet_volume_stats_available_bytes{namespace=%q} / kubelet_volume_stats_capacity_bytes{namespace=%q} < 0.03`, ns, ns),
			"5m", "critical",
			"Volume {{ $labels.persistentvolumeclaim }} is full (less than 3% free)",
			"Writes are about to fail: expand the volume now (storage.<volume> in platform.yaml)."},
		{"InvenioBackupFailed",
			fmt.Sprintf(`max by (job_name) (kube_job_status_failed{namespace=%q, job_name=~"backup-.*|restore-check-.*|restore"}) > 0`, ns),
			"5m", "critical",
			"Backup job {{ $labels.job_name }} failed",
			"kubectl -n " + ns + " logs job/{{ $labels.job_name }}; fix the cause, then start a run: kubectl -n " + ns + " create job --from=cronjob/<cronjob> <name>."},
		{"InvenioBackupMissing",
			fmt.Sprintf(`time() - max by (cronjob) (kube_cronjob_status_last_successful_time{namespace=%q, cronjob=~"backup-.*"}) > 26 * 3600`, ns),
			"15m", "critical",
			"CronJob {{ $labels.cronjob }} has not succeeded for more than 26 hours",
			"kubectl -n " + ns + " get cronjob {{ $labels.cronjob }} (suspended? last schedule?) and kubectl -n " + ns + " get jobs: a suspended CronJob or failing runs leave the data without a backup."},
		{"InvenioDatabaseDown",
			fmt.Sprintf(`pg_up{namespace=%q} == 0`, ns),
			"2m", "critical",
			"PostgreSQL does not answer the exporter",
			"kubectl -n " + ns + " logs statefulset/postgresql; check the pod, its volume and the postgresql-exporter's credentials."},
		{"InvenioDatabaseExporterDown",
			fmt.Sprintf(`absent(up{namespace=%q, service="postgresql-exporter"} == 1)`, ns),
			"10m", "warning",
			"Prometheus cannot scrape the PostgreSQL exporter: database alerts are blind",
			"kubectl -n " + ns + " get pods -l app.kubernetes.io/name=postgresql-exporter; check the NetworkPolicy and Prometheus' ServiceMonitor selector."},
		{"InvenioCertificateExpiring",
			fmt.Sprintf(`certmanager_certificate_expiration_timestamp_seconds{namespace=%q} - time() < 14 * 86400`, ns),
			"1h", "warning",
			"Certificate {{ $labels.name }} expires in less than 14 days",
			"cert-manager renews 30 days ahead, so renewal is failing: kubectl -n " + ns + " describe certificate {{ $labels.name }}; check the HTTP-01 solver and the ACME account."},
	}
}

// AlertsComponent holds the PrometheusRule of the namespace ns.
func AlertsComponent(meta component.Meta, opt Options, ns string) *component.Component {
	c := &component.Component{Name: Alerts, Role: "alerts", Layer: component.LayerApp}
	g := monitoringv1.RuleGroup{Name: "invenio"}
	for _, r := range Rules(ns) {
		d := monitoringv1.Duration(r.For)
		g.Rules = append(g.Rules, monitoringv1.Rule{
			Alert:       r.Alert,
			Expr:        intstr.FromString(r.Expr),
			For:         &d,
			Labels:      map[string]string{"severity": r.Severity},
			Annotations: map[string]string{"summary": r.Summary, "runbook": r.Runbook},
		})
	}
	c.Objects = []component.Object{&monitoringv1.PrometheusRule{
		TypeMeta:   typeMeta(monitoringv1.PrometheusRuleKind),
		ObjectMeta: opt.objectMeta(meta, c, "invenio"),
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{g}},
	}}
	return c
}
