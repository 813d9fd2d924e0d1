package monitoring_test

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/monitoring"
)

// TestRulesParse parses every alert expression with Prometheus' own PromQL
// parser, checks it is scoped to the namespace, and that each alert has a
// severity, a summary and a runbook.
func TestRulesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	want := []string{"InvenioPodCrashLooping", "InvenioVolumeAlmostFull", "InvenioVolumeFull", "InvenioBackupFailed",
		"InvenioBackupMissing", "InvenioDatabaseDown", "InvenioDatabaseExporterDown", "InvenioCertificateExpiring"}
	rules := monitoring.Rules("invenio-prod")
	var got []string
	for _, r := range rules {
		got = append(got, r.Alert)
		if _, err := p.ParseExpr(r.Expr); err != nil {
			t.Errorf("%s: %q does not parse: %v", r.Alert, r.Expr, err)
		}
		if !strings.Contains(r.Expr, `namespace="invenio-prod"`) {
			t.Errorf("%s: %q is not scoped to the namespace", r.Alert, r.Expr)
		}
		if r.Severity != "warning" && r.Severity != "critical" {
			t.Errorf("%s: severity %q", r.Alert, r.Severity)
		}
		if r.Summary == "" || r.Runbook == "" || r.For == "" {
			t.Errorf("%s: summary, runbook and for are required", r.Alert)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

// TestParserRejectsBadExpressions: the check above can fail.
func TestParserRejectsBadExpressions(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, expr := range []string{
		`pg_up{namespace="x"} ==`,
		`time() - max by (cronjob kube_cronjob_status_last_successful_time`,
		`rate(foo[5x])`,
	} {
		if _, err := p.ParseExpr(expr); err == nil {
			t.Errorf("%q parsed", expr)
		}
	}
}

// TestDeriveServiceMonitors: one ServiceMonitor per component with metrics,
// selecting its Service by the selector labels, one endpoint per declared
// port; a port the component does not serve is an error.
func TestDeriveServiceMonitors(t *testing.T) {
	meta := component.Meta{Instance: "site", PartOf: "p", ManagedBy: "m", Namespace: "ns"}
	opt := monitoring.Options{SelectorLabels: map[string]string{"release": "prom"}, Interval: "30s"}
	exp := &component.Component{Name: "exp", Serves: []component.Port{{Name: "metrics", Port: 9187}},
		Metrics: []component.Metrics{{Port: "metrics", Path: "/metrics"}}}
	plain := &component.Component{Name: "plain", Serves: []component.Port{{Name: "http", Port: 80}}}
	if err := monitoring.Derive(meta, opt, []*component.Component{exp, plain}); err != nil {
		t.Fatal(err)
	}
	if len(plain.Objects) != 0 {
		t.Errorf("a component without metrics got %d objects", len(plain.Objects))
	}
	if len(exp.Objects) != 1 {
		t.Fatalf("got %d objects, want 1 ServiceMonitor", len(exp.Objects))
	}
	sm := exp.Objects[0].(*monitoringv1.ServiceMonitor)
	if sm.Labels["release"] != "prom" || sm.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "exp" ||
		len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Interval != "30s" {
		t.Errorf("unexpected ServiceMonitor: %+v", sm)
	}
	bad := &component.Component{Name: "bad", Metrics: []component.Metrics{{Port: "metrics", Path: "/metrics"}}}
	err := monitoring.Derive(meta, opt, []*component.Component{bad})
	if err == nil || err.Error() != `bad declares metrics on port "metrics", which it does not serve` {
		t.Errorf("got %v", err)
	}
}
