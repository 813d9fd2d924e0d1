package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation"

	"lbl.gov/invenio-gitops/internal/testrepo"
)

// TestBadDescriptions pins the exact message of each kind of mistake: the
// line, the path of the field and a message that says what to write.
func TestBadDescriptions(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown field", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webUI:
        replicas: 2
        resorces: {}
`, "platform.yaml:11: environments[0].workloads.webUI: unknown field \"resorces\": did you mean \"resources\"? (valid fields here are enabled, replicas, resources, autoscaling)"},
		{"unknown field far from any valid one", `site:
  name: x
  colour: blue
`, "platform.yaml:3: site: unknown field \"colour\"; valid fields here are name, partOf, managedBy"},
		{"unknown top-level key", `site:
  name: x
environment:
  - name: dev
`, "platform.yaml:3: unknown field \"environment\": did you mean \"environments\"? (valid fields here are site, defaults, environments, gitops, infrastructure, clusters)"},
		{"unknown field in defaults, through an alias", `site:
  name: x
defaults:
  image: &img {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: *img
    images:
      redis: {repositry: redis}
`, "platform.yaml:11: environments[0].images.redis: unknown field \"repositry\": did you mean \"repository\"? (valid fields here are repository, tag)"},
		{"autoscaling on a singleton", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      beat:
        autoscaling: {enabled: true}
`, "platform.yaml:10: environments[0].workloads.beat.autoscaling: beat cannot autoscale: Celery beat must run exactly one replica, or tasks run twice; remove autoscaling (only webUI, webAPI, frontend and worker scale)"},
		{"autoscaling on postgresql", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      postgresql:
        autoscaling:
          maxReplicas: 3
`, "platform.yaml:11: environments[0].workloads.postgresql.autoscaling: postgresql cannot autoscale: PostgreSQL runs one instance (no replication configured); remove autoscaling (only webUI, webAPI, frontend and worker scale)"},
		{"autoscaling min above max", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webUI:
        autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 3}
`, "platform.yaml:10: environments[0].workloads.webUI.autoscaling.maxReplicas: 3 is not above minReplicas 5: the autoscaler would have nothing to do; raise maxReplicas or turn autoscaling off and set replicas"},
		{"autoscaling min equal to max", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        autoscaling:
          enabled: true
          minReplicas: 3
          maxReplicas: 3
`, "platform.yaml:13: environments[0].workloads.worker.autoscaling.maxReplicas: 3 is not above minReplicas 3: the autoscaler would have nothing to do; raise maxReplicas or turn autoscaling off and set replicas"},
		{"autoscaling to one pod", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webAPI:
        autoscaling:
          enabled: true
          minReplicas: 1
`, "platform.yaml:12: environments[0].workloads.webAPI.autoscaling.minReplicas: 1: an autoscaled workload runs at least 2 pods, so that a node can be drained without an outage; write 2 or more (or turn autoscaling off and set replicas)"},
		{"autoscaling and replicas", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      frontend:
        replicas: 3
        autoscaling: {enabled: true}
`, "platform.yaml:10: environments[0].workloads.frontend.replicas: replicas and autoscaling.enabled are both set: the HorizontalPodAutoscaler owns the replica count (between minReplicas 2 and maxReplicas 4); remove replicas"},
		{"autoscaling percentage above 100", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webUI:
        autoscaling: {enabled: true, cpu: 120}
`, "platform.yaml:10: environments[0].workloads.webUI.autoscaling.cpu: \"120\" is not a percentage: write a whole number from 1 to 100, e.g. 70"},
		{"autoscaling percentage zero", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webUI:
        autoscaling:
          memory: 0
`, "platform.yaml:11: environments[0].workloads.webUI.autoscaling.memory: \"0\" is not a percentage: write a whole number from 1 to 100, e.g. 70"},
		{"autoscaling max above 100", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      webUI:
        autoscaling:
          maxReplicas: 500
`, "platform.yaml:11: environments[0].workloads.webUI.autoscaling.maxReplicas: \"500\" is not a count: write a whole number from 0 to 100"},
		{"stabilization too long", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        autoscaling:
          enabled: true
          scaleDownStabilization: 2h
`, "platform.yaml:12: environments[0].workloads.worker.autoscaling.scaleDownStabilization: 2h is longer than the 1h the HorizontalPodAutoscaler API allows; write e.g. 5m"},
		{"stabilization not whole seconds", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        autoscaling:
          enabled: true
          scaleDownStabilization: 0.5s
      webUI:
        autoscaling:
          enabled: true
          scaleDownStabilization: 2m30500ms
`, "platform.yaml:12: environments[0].workloads.worker.autoscaling.scaleDownStabilization: 0.5s is not a whole number of seconds: the HorizontalPodAutoscaler counts its window in whole seconds (stabilizationWindowSeconds), so 0.5s would be cut to 0; write e.g. 1s\n" +
			"platform.yaml:16: environments[0].workloads.webUI.autoscaling.scaleDownStabilization: 2m30500ms is not a whole number of seconds: the HorizontalPodAutoscaler counts its window in whole seconds (stabilizationWindowSeconds), so 2m30500ms would be cut to 150; write e.g. 2m30s"},
		{"monitoring without prometheus labels", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    monitoring:
      enabled: true
      prometheusLabels: {}
`, "platform.yaml:10: environments[0].monitoring.prometheusLabels: is empty: name the labels of the Prometheus pods (e.g. {app.kubernetes.io/name: prometheus}), or the exporters' NetworkPolicies would let every pod of the namespace scrape them"},
		{"monitoring interval with a fraction", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    monitoring: {enabled: true, interval: 1.5m}
`, "platform.yaml:8: environments[0].monitoring.interval: \"1.5m\" is not a Prometheus duration: write whole units without fractions, e.g. 30s or 1m30s"},
		{"report schedule not cron", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    reports:
      largestFiles:
        schedule: every night
`, "platform.yaml:10: environments[0].reports.largestFiles.schedule: \"every night\" is not a schedule the API server accepts: expected exactly 5 fields, found 2: [every night]; write minute hour day-of-month month day-of-week (0-6, Sunday is 0), e.g. \"0 2 * * *\" for 02:00 UTC every day"},
		{"report of no files", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    reports:
      largestFiles: {enabled: true, top: 0}
`, "platform.yaml:9: environments[0].reports.largestFiles.top: 0 files: write how many of the largest files to list, from 1 to 100"},
		{"negative replicas", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        replicas: -1
`, "platform.yaml:10: environments[0].workloads.worker.replicas: \"-1\" is not a count: write a whole number from 0 to 100"},
		{"replicas above 100", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        replicas: 101
`, "platform.yaml:10: environments[0].workloads.worker.replicas: \"101\" is not a count: write a whole number from 0 to 100"},
		{"size not a quantity", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    storage:
      files: 10 GB
`, "platform.yaml:9: environments[0].storage.files: \"10 GB\" is not a Kubernetes quantity: write e.g. 500m or 2 for CPU, 512Mi or 100Gi for memory and storage"},
		{"zero size", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    storage:
      files: 0
`, "platform.yaml:9: environments[0].storage.files: \"0\" must be greater than zero"},
		{"negative size", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    storage:
      postgresql: -5Gi
`, "platform.yaml:9: environments[0].storage.postgresql: \"-5Gi\" must be greater than zero"},
		{"bad value in defaults is reported once, not once per environment", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
  storage:
    files: 10 GB
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
  - name: test
    namespace: invenio-test
    host: test.example.org
`, "platform.yaml:6: defaults.storage.files: \"10 GB\" is not a Kubernetes quantity: write e.g. 500m or 2 for CPU, 512Mi or 100Gi for memory and storage"},
		{"idle timeouts", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: a
    namespace: a
    host: a.example.org
    ingress: {idleTimeout: 180}
  - name: b
    namespace: b
    host: b.example.org
    ingress: {idleTimeout: 500ms}
  - name: c
    namespace: c
    host: c.example.org
    ingress: {idleTimeout: 2h}
  - name: d
    namespace: d
    host: d.example.org
    ingress: {idleTimeout: 1.5s}
  - name: e
    namespace: e
    host: e.example.org
    ingress: {idleTimeout: 3 minutes}
  - name: f
    namespace: f
    host: f.example.org
    ingress: {idleTimeout: -3m}
`,
			"platform.yaml:9: environments[0].ingress.idleTimeout: \"180\" is not a duration: write a number with its unit, s, m or h, e.g. 180s or 3m\n" +
				"platform.yaml:13: environments[1].ingress.idleTimeout: \"500ms\" is shorter than 1s: a client or server that pauses that briefly would be cut off; write a duration from 1s to 1h, e.g. 180s\n" +
				"platform.yaml:17: environments[2].ingress.idleTimeout: \"2h\" is longer than 1h: a connection silent that long is dead and only holds a uWSGI thread; write a duration from 1s to 1h, e.g. 180s\n" +
				"platform.yaml:21: environments[3].ingress.idleTimeout: \"1.5s\" is not a whole number of seconds: nginx and uWSGI count timeouts in seconds; write 2s\n" +
				"platform.yaml:25: environments[4].ingress.idleTimeout: \"3 minutes\" is not a duration: write a number with its unit, s, m or h, e.g. 180s or 3m\n" +
				"platform.yaml:29: environments[5].ingress.idleTimeout: \"-3m\" is shorter than 1s: a client or server that pauses that briefly would be cut off; write a duration from 1s to 1h, e.g. 180s"},
		{"idle timeout in defaults", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
  ingress:
    idleTimeout: 90m
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
`, "platform.yaml:6: defaults.ingress.idleTimeout: \"90m\" is longer than 1h: a connection silent that long is dead and only holds a uWSGI thread; write a duration from 1s to 1h, e.g. 180s"},
		{"upload limit below 1Mi", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
  ingress:
    maxUploadSize: 500Ki
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
  - name: test
    namespace: invenio-test
    host: test.example.org
    ingress: {maxUploadSize: 1Mi}
  - name: prod
    namespace: invenio-prod
    host: prod.example.org
    ingress:
      maxUploadSize: "1048575"
`,
			"platform.yaml:6: environments[0].ingress.maxUploadSize: 500Ki is less than 1Mi: InvenioRDM would refuse nearly every file (a unit mistake?); write the largest file to accept, at least 1Mi, e.g. 50Gi\n" +
				"platform.yaml:19: environments[2].ingress.maxUploadSize: 1048575 is less than 1Mi: InvenioRDM would refuse nearly every file (a unit mistake?); write the largest file to accept, at least 1Mi, e.g. 50Gi"},
		{"host not a DNS name", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: https://Dev.Example.org/
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
`, "platform.yaml:6: environments[0].host: \"https://Dev.Example.org/\" is not a DNS name: use lower-case letters, digits, '-' and '.', e.g. \"https-dev.example.org\""},
		{"site name not a name", `site:
  name: LBNL Data
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
`, "platform.yaml:2: site.name: \"LBNL Data\" is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. \"lbnl-data\")"},
		{"environment named twice", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
  - name: dev
    namespace: invenio-dev2
    host: dev2.example.org
`, "platform.yaml:9: environments[1].name: environment \"dev\" is already described at line 6: give each environment its own name"},
		{"namespace used twice", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio
    host: dev.example.org
  - name: test
    namespace: invenio
    host: test.example.org
`, "platform.yaml:10: environments[1].namespace: namespace \"invenio\" is already used by the environment at line 7: each environment needs its own namespace"},
		{"empty file", ``, "platform.yaml:1: the description is empty: start from the platform.yaml in the repository root"},
		{"only a comment", "# nothing yet\n", "platform.yaml:1: the description is empty: start from the platform.yaml in the repository root"},
		{"host with an empty label", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: a.b..c
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
`, "platform.yaml:6: environments[0].host: \"a.b..c\" is not a DNS name: use lower-case letters, digits, '-' and '.', e.g. \"a.b.c\""},
		{"two documents", `site:
  name: x
---
site:
  name: y
`, "platform.yaml:3: the description must be a single YAML document, but a second one starts here (the first is at line 1): remove this '---' and what follows it, or merge it into the first"},
		{"two documents, an empty one between", `---
site:
  name: x
---
# nothing
---
site:
  name: y
`, "platform.yaml:6: the description must be a single YAML document, but a second one starts here (the first is at line 2): remove this '---' and what follows it, or merge it into the first"},
		{"only empty documents", "---\n---\n# nothing\n", "platform.yaml:1: the description is empty: start from the platform.yaml in the repository root"},
		{"YAML syntax error", `site:
  name: x
 environments: [
`, "platform.yaml:2: did not find expected key: check the indentation: the keys of one mapping start in the same column"},
		{"YAML syntax error on the first line (yaml.v3 gives no line)", "site: a: b\n",
			"platform.yaml:1: mapping values are not allowed in this context: quote a value that holds ': ', and start each key in the column of its mapping's other keys"},
		{"unclosed bracket", "site:\n  name: x\n  partOf: [y\n  managedBy: z\n",
			"platform.yaml:2: did not find expected ',' or ']': close the '[' opened here with ']'"},
		{"unclosed quote", "site:\n  name: x\n  partOf: 'y\n",
			"platform.yaml:3: found unexpected end of stream: close the quote or bracket opened here"},
		{"a value starting with @", "\n\nsite: @x\n",
			"platform.yaml:3: found character that cannot start any token: quote a value that starts with @, ` or %"},
		{"unknown escape on the first line", `site: "a\qb"` + "\n",
			`platform.yaml:1: found unknown escape character: in double quotes write \\ for a backslash, or use single quotes`},
		{"a lone document marker", "---\n# to do\n", "platform.yaml:1: the description is empty: start from the platform.yaml in the repository root"},
		{"binary", "\x1f\x8b\x08\x00\x00\x00",
			"platform.yaml:1: not a text file (a NUL byte, byte 4 of the file): the description is YAML text; check that this is the file you meant"},
		{"a NUL byte further down", "site:\n  name: x\x00\n",
			"platform.yaml:2: not a text file (a NUL byte, byte 16 of the file): the description is YAML text; check that this is the file you meant"},
		{"Latin-1", "site:\n  name: caf\xe9\n",
			"platform.yaml:2: not UTF-8 (byte 0xE9 in column 12): save the file as UTF-8"},
		{"UTF-16", "\xff\xfes\x00i\x00t\x00e\x00:\x00\n\x00",
			"platform.yaml:1: the file is UTF-16 text: save it as UTF-8"},
		{"a control character", "site:\n  name: \u00e9x\a\n",
			"platform.yaml:2: a control character (U+0007) in column 11: YAML text holds none; delete it"},
		{"tab indenting a key", "site:\n\tname: x\n",
			"platform.yaml:2: a tab in the indentation: YAML indents with spaces; replace the tab with spaces"},
		{"tab after spaces", "site:\n  name: x\n  \tpartOf: y\n",
			"platform.yaml:3: a tab in the indentation: YAML indents with spaces; replace the tab with spaces"},
		{"tab after blank lines", "site:\n  name: x\n\n\n  \tpartOf: y\n",
			"platform.yaml:5: a tab in the indentation: YAML indents with spaces; replace the tab with spaces"},
		{"tab indenting a list entry", "site:\n  name: x\nenvironments:\n\t- name: dev\n",
			"platform.yaml:4: a tab in the indentation: YAML indents with spaces; replace the tab with spaces"},
		{"unknown anchor", "site:\n  name: x\ndefaults: *common\n",
			"platform.yaml:3: unknown anchor 'common' referenced: define the anchor (&common) on a value above this line, or write the value here"},
		{"tag that does not fit", "\n\nsite: !!int x\n",
			"platform.yaml:3: site: must be a mapping with the fields name, partOf, managedBy\n" +
				"platform.yaml:3: site: cannot decode !!str `x` as a !!int: remove the tag !!int"},
		{"merge of a scalar", "site:\n  <<: 1\n",
			"platform.yaml:2: site: unknown field \"<<\"; valid fields here are name, partOf, managedBy\n" +
				"platform.yaml:2: site: map merge requires map or sequence of maps as the value: write '<<: *name' after an anchor &name on a mapping"},
		{"not a bool", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    monitoring:
      enabled: maybe
`, "platform.yaml:9: environments[0].monitoring.enabled: cannot read a YAML str `maybe` into bool: write true or false"},
		{"top level is a list", `- site
`, "platform.yaml:1: the description must be a mapping with site, defaults and environments"},
		{"no environments", `site:
  name: x
environments: []
`, "platform.yaml:3: environments: no environment is described: add at least one, e.g. '- name: dev' with namespace and host"},
		{"environments is a mapping", `site:
  name: x
environments:
  dev:
    namespace: invenio-dev
`, "platform.yaml:4: environments: must be a list of environments, each starting with '- name: …'"},
		{"image tag latest", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image:
      repository: ghcr.io/lbnl/invenio
      tag: latest
`, "platform.yaml:9: environments[0].image.tag: image tag \"latest\" is not reproducible: pin a release tag such as \"v12.0.10\""},
		{"image repository with a tag", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image:
      repository: ghcr.io/lbnl/invenio:v12
      tag: v12
`, "platform.yaml:8: environments[0].image.repository: image repository \"ghcr.io/lbnl/invenio:v12\" must not carry a tag or digest: put the tag in the tag field (repository: \"ghcr.io/lbnl/invenio\", tag: \"…\")"},
		{"missing namespace, host and image", `site:
  name: x
environments:
  - name: dev
`,
			"platform.yaml:4: environments[0].namespace: is required: name the namespace, e.g. invenio-dev\n" +
				"platform.yaml:4: environments[0].host: is required: give the public host name, e.g. invenio.example.org\n" +
				"platform.yaml:4: environments[0].image.repository: is required: name the InvenioRDM image, e.g. ghcr.io/lbnl/invenio\n" +
				"platform.yaml:4: environments[0].image.tag: is required: pin the InvenioRDM image tag, e.g. v12.0.10"},
		{"requests above limits", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        resources:
          requests: {cpu: "2", memory: 4Gi}
          limits: {cpu: "1", memory: 2Gi}
`,
			"platform.yaml:11: environments[0].workloads.worker.resources.requests.cpu: request 2 is above the limit 1: lower the request or raise the limit\n" +
				"platform.yaml:11: environments[0].workloads.worker.resources.requests.memory: request 4Gi is above the limit 2Gi: lower the request or raise the limit"},
		{"beat replicas 2", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      beat:
        replicas: 2
`, "platform.yaml:10: environments[0].workloads.beat.replicas: 2 replicas: Celery beat must run exactly one replica, or tasks run twice; write 1 (or 0 to stop it)"},
		{"enabled on a non-optional workload", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    workloads:
      worker:
        enabled: false
`, "platform.yaml:10: environments[0].workloads.worker.enabled: worker is not optional: remove enabled (only dashboards and pgadmin can be switched off)"},
		{"saml without idp, metadataURL and egressCIDRs", `site:
  name: x
environments:
  - name: prod
    namespace: invenio-prod
    host: invenio.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    auth:
      mode: saml
`,
			"platform.yaml:4: environments[0].auth.saml.idp: is required: name the identity provider, e.g. lbl\n" +
				"platform.yaml:4: environments[0].auth.saml.metadataURL: is required: give the IdP metadata URL, e.g. https://login.example.org/idp/shibboleth\n" +
				"platform.yaml:4: environments[0].auth.saml.egressCIDRs: is required: list the networks the IdP answers from, e.g. [198.128.0.0/16]"},
		{"saml metadataURL not https", `site:
  name: x
environments:
  - name: prod
    namespace: invenio-prod
    host: invenio.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    auth:
      mode: saml
      saml:
        idp: lbl
        metadataURL: http://login.example.org/idp/shibboleth
        egressCIDRs: [198.128.0.0/16]
`, "platform.yaml:12: environments[0].auth.saml.metadataURL: \"http://login.example.org/idp/shibboleth\" is not an https:// URL: the IdP metadata must be fetched over HTTPS"},
		{"CIDR with host bits set", `site:
  name: x
environments:
  - name: prod
    namespace: invenio-prod
    host: invenio.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    auth:
      mode: saml
      saml:
        idp: lbl
        metadataURL: https://login.example.org/idp/shibboleth
        egressCIDRs: [198.128.1.0/16]
`, "platform.yaml:13: environments[0].auth.saml.egressCIDRs[0]: \"198.128.1.0/16\" has host bits set: write the network \"198.128.0.0/16\""},
		{"S3 endpoint with credentials", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: true
      target:
        s3:
          endpoint: "https://user:pw@s3.example.org:9000/some/path/?x=1#frag"
          bucket: backups
          egressCIDRs: [198.51.100.0/24]
`,
			"platform.yaml:13: environments[0].backup.target.s3.endpoint: \"https://user:xxxxx@s3.example.org:9000/some/path/?x=1#frag\" holds credentials (user:password@): they would be written to git in plain text; remove them (credentials go in a sealed Secret)"},
		{"S3 endpoint with a port, path, query and fragment; region with spaces", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: true
      target:
        s3:
          endpoint: "https://s3.example.org:9000/some/path/?x=1#frag"
          bucket: backups
          region: "us east 1\n"
          egressCIDRs: [198.51.100.0/24]
  - name: test
    namespace: invenio-test
    host: test.example.org
    backup:
      enabled: true
      target:
        s3: {endpoint: "https://s3.example.org:443/", bucket: backups, region: eu-central-1, egressCIDRs: [198.51.100.0/24]}
    auth:
      mode: saml
      saml: {idp: lbl, metadataURL: "https://login.example.org:443/idp/shibboleth?entity=a", egressCIDRs: [198.128.0.0/16]}
    workloads:
      webUI: {replicas: 0}
`,
			"platform.yaml:13: environments[0].backup.target.s3.endpoint: \"https://s3.example.org:9000/some/path/?x=1#frag\" has port 9000, but the NetworkPolicies let the pods open HTTPS on port 443 only, so it would never connect; a path (/some/path/); a query (?x=1); a fragment (#frag) (restic's s3: repository is this address followed by the bucket and prefix, which are fields of their own); write \"https://s3.example.org\"\n" +
				"platform.yaml:15: environments[0].backup.target.s3.region: \"us east 1\\n\" is not a region: use lower-case letters, digits and '-', e.g. us-east-1"},
		{"S3 endpoint on another port", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: true
      target:
        s3:
          endpoint: https://minio.example.org:9000
          bucket: backups
          egressCIDRs: [198.51.100.0/24]
`, "platform.yaml:13: environments[0].backup.target.s3.endpoint: \"https://minio.example.org:9000\" has port 9000, but the NetworkPolicies let the pods open HTTPS on port 443 only, so it would never connect; write \"https://minio.example.org\""},
		{"saml metadataURL with credentials, a port and a fragment", `site:
  name: x
environments:
  - name: prod
    namespace: invenio-prod
    host: invenio.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    auth:
      mode: saml
      saml:
        idp: lbl
        metadataURL: https://u:secret@login.example.org:8443/idp/shibboleth?entity=a#top
        egressCIDRs: [198.128.0.0/16]
`,
			"platform.yaml:12: environments[0].auth.saml.metadataURL: \"https://u:xxxxx@login.example.org:8443/idp/shibboleth?entity=a#top\" has credentials (user:password@), which would be written to git in plain text: put them in a sealed Secret; port 8443, but the NetworkPolicies let the pods open HTTPS on port 443 only, so it would never connect; a fragment (#top); write \"https://login.example.org/idp/shibboleth?entity=a\""},
		{"heapSize more than half the OpenSearch memory limit", `site:
  name: x
environments:
  - name: prod
    namespace: invenio-prod
    host: invenio.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    search:
      heapSize: 2Gi
    workloads:
      opensearch:
        resources:
          limits: {memory: 3Gi}
`, "platform.yaml:9: environments[0].search.heapSize: heap 2Gi is more than half of the OpenSearch memory limit 3Gi: OpenSearch needs the other half for the file-system cache; lower heapSize to 1536Mi or raise workloads.opensearch.resources.limits.memory"},
		{"list where a mapping is expected", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    storage:
      - files: 10Gi
`, "platform.yaml:9: environments[0].storage: must be a mapping with the fields readWriteOnceClass, readWriteManyClass, files, postgresql, opensearch, rabbitmq, redis, pgadmin"},
		{"defaults.name", `site:
  name: x
defaults:
  name: dev
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
`, "platform.yaml:4: defaults.name: defaults cannot name an environment: move name into an entry of environments"},
		{"every bad value of the file at once", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    app:
      logLevel: debug
    auth:
      mode: oidc
    workloads:
      webUI: {replicas: many}
`,
			"platform.yaml:9: environments[0].app.logLevel: \"debug\" is not a log level: write DEBUG, INFO, WARNING or ERROR\n" +
				"platform.yaml:11: environments[0].auth.mode: \"oidc\" is not a login mode: write password or saml\n" +
				"platform.yaml:13: environments[0].workloads.webUI.replicas: \"many\" is not a count: write a whole number from 0 to 100"},
		{"exposure values", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    ingress:
      exposure: edge
      gateway:
        className: Envoy
clusters:
  - {name: dev, distribution: OpenShift}
`,
			"platform.yaml:10: environments[0].ingress.exposure: \"edge\" is not an exposure: write gateway (Gateway API), ingress (an Ingress for an ingress controller), both (side by side, while migrating) or route (an OpenShift Route)\n" +
				"platform.yaml:12: environments[0].ingress.gateway.className: \"Envoy\" is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. \"envoy\")\n" +
				"platform.yaml:14: clusters[0].distribution: \"OpenShift\" is not a distribution: write kubernetes or openshift"},
		{"ingress annotations", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    ingress:
      exposure: ingress
      annotations:
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers X: y;"
        "bad key/": x
        traefik.ingress.kubernetes.io/router.entrypoints: websecure
`,
			"platform.yaml:12: environments[0].ingress.annotations: the key \"bad key/\" is not an annotation key: prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'); name part must be non-empty; name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')\n" +
				"platform.yaml:12: environments[0].ingress.annotations: \"nginx.ingress.kubernetes.io/configuration-snippet\": ingress-nginx snippets run arbitrary nginx configuration (CVE-2025-1974); the generated controller refuses them (allowSnippetAnnotations: false): remove it"},
		{"routes need OpenShift", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    ingress: {exposure: route}
  - name: test
    namespace: invenio-test
    host: test.example.org
    cluster: lab
    ingress:
      exposure: route
      route: {routerNamespaceLabels: {}}
  - name: prod
    namespace: openshift-ingress
    host: prod.example.org
    cluster: ocp
    ingress: {exposure: route}
  - name: stage
    namespace: invenio-stage
    host: stage.example.org
    cluster: ocp
clusters:
  - name: lab
  - name: ocp
    distribution: openshift
  - name: labb
  - name: ocp
  - distribution: kubernetes
`,
			"platform.yaml:9: environments[0].ingress.exposure: route needs an OpenShift cluster, whose router serves Routes, and the description does not list cluster \"dev\" under clusters: add '- name: dev' with 'distribution: openshift' there if it is one; otherwise use gateway\n" +
				"platform.yaml:15: environments[1].ingress.exposure: route needs an OpenShift cluster, whose router serves Routes, and cluster \"lab\" is described as kubernetes at line 27: set distribution: openshift there if it is OpenShift; otherwise use gateway\n" +
				"platform.yaml:16: environments[1].ingress.route.routerNamespaceLabels: is empty: name the labels of the namespace the router's traffic comes from (OpenShift's is {policy-group.network.openshift.io/ingress: \"\"}), or the frontend's NetworkPolicy would admit every namespace\n" +
				"platform.yaml:18: environments[2].namespace: \"openshift-ingress\" is the OpenShift routers' namespace: the environment's namespace gets a default-deny NetworkPolicy and Pod Security \"restricted\", which would break what runs there; give the environment a namespace of its own, e.g. invenio-prod\n" +
				"platform.yaml:22: environments[3].ingress.exposure: gateway with the Envoy Gateway the generator installs (class eg) on cluster \"ocp\", which is OpenShift: OpenShift manages the Gateway API CRDs itself and refuses another installer's; use route, or OpenShift's own Gateway API implementation (ingress.gateway.className, dataPlaneNamespace and dataPlaneLabels of it)\n" +
				"platform.yaml:30: clusters[2].name: no environment runs in cluster \"labb\": environments[].cluster (default: the environment's name) names dev, lab, ocp; correct the name or drop the entry\n" +
				"platform.yaml:31: clusters[3].name: cluster \"ocp\" is already described at line 28: describe each cluster once\n" +
				"platform.yaml:32: clusters[4].name: is required: the cluster's name as environments[].cluster gives it, e.g. dev"},
		{"gateways of a cluster", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: test
    namespace: envoy-gateway-system
    host: test.example.org
    cluster: lab
    ingress:
      exposure: gateway
      gateway:
        dataPlaneLabels: {"app/x/y": proxy}
  - name: prod
    namespace: invenio-prod
    host: prod.example.org
    cluster: lab
    ingress:
      exposure: gateway
      gateway: {className: cilium}
`,
			"platform.yaml:7: environments[0].namespace: \"envoy-gateway-system\" is the Gateway API implementation's namespace (ingress.gateway.dataPlaneNamespace): the environment's namespace gets a default-deny NetworkPolicy and Pod Security \"restricted\", which would break what runs there; give the environment a namespace of its own, e.g. invenio-test\n" +
				"platform.yaml:13: environments[0].ingress.gateway.dataPlaneLabels: the key \"app/x/y\" is not a label key: a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')\n" +
				"platform.yaml:14: environments[1].ingress.gateway.dataPlaneLabels: is \"app.kubernetes.io/component=proxy,app.kubernetes.io/name=envoy\", but environment test (line 13) in the same cluster \"lab\" has \"app/x/y=proxy\": a cluster runs one such controller, so environments sharing it must agree\n" +
				"platform.yaml:20: environments[1].ingress.gateway.className: is \"cilium\", but environment test (line 6) in the same cluster \"lab\" has \"eg\": a cluster runs one such controller, so environments sharing it must agree"},
		{"gitops and infrastructure values", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
gitops:
  url: git@github.com:lbnl/platform.git
  branch: "feature branch"
  interval: 5 minutes
infrastructure:
  acme:
    email: Ops <ops@example.org>
    servers: {letsencrypt: "http://acme.example.org/directory"}
  certManager: {version: ">=1.0"}
`,
			"platform.yaml:9: gitops.url: \"git@github.com:lbnl/platform.git\" is not a repository URL Flux can clone: write ssh://git@github.com/lbnl/platform.git (Flux does not take the scp-like form)\n" +
				"platform.yaml:10: gitops.branch: \"feature branch\" is not a branch name: use letters, digits, '.', '_', '-' and '/', e.g. main\n" +
				"platform.yaml:11: gitops.interval: \"5 minutes\" is not a duration: write a positive number with h, m, s or ms, e.g. 10m or 1h30m\n" +
				"platform.yaml:14: infrastructure.acme.email: \"Ops <ops@example.org>\" is not an e-mail address: write just the address, e.g. ops@example.org\n" +
				"platform.yaml:15: infrastructure.acme.servers.letsencrypt: \"http://acme.example.org/directory\" is not an https:// URL\n" +
				"platform.yaml:16: infrastructure.certManager.version: \">=1.0\" is not a pinned chart version: write an exact version such as 1.2.3 (no ranges: a range would change what is installed without a commit)"},
		{"gitops and acme missing", `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
gitops: {branch: main}
infrastructure: {certManager: {install: false}}
`,
			"platform.yaml:8: gitops.url: is required: the URL Flux clones this repository from, e.g. ssh://git@github.com/lbnl/platform-gitops.git\n" +
				"platform.yaml:9: infrastructure.acme.email: is required: the contact address of the ACME account, e.g. ops@example.org"},
		{"clusters, issuers and sealing", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    cluster: lab
    ingress: {clusterIssuer: letsencrypt}
    sealing:
      scopes: {invenio-ap: cluster-wide, invenio-app: everywhere}
  - name: test
    namespace: invenio-test
    host: test.example.org
    cluster: lab
    sealing: {controllerNamespace: shared-services}
  - name: source
    namespace: invenio-source
    host: source.example.org
`,
			"platform.yaml:12: environments[0].sealing.scopes.invenio-app: \"everywhere\" is not a sealing scope: write strict, namespace-wide or cluster-wide"},
		{"clusters must agree", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    cluster: lab
    ingress: {clusterIssuer: letsencrypt}
    sealing:
      scopes: {invenio-ap: cluster-wide}
  - name: test
    namespace: invenio-test
    host: test.example.org
    cluster: lab
    sealing: {controllerNamespace: shared-services}
  - name: source
    namespace: invenio-source
    host: source.example.org
`,
			"platform.yaml:10: environments[0].ingress.clusterIssuer: \"letsencrypt\" is not one of the ClusterIssuers in infrastructure.acme.servers (letsencrypt-prod, letsencrypt-staging): use one of them or add it there\n" +
				"platform.yaml:12: environments[0].sealing.scopes.invenio-ap: \"invenio-ap\" is not a Secret of this environment: scopes are set per Secret name (invenio-app, invenio-backup, invenio-pgadmin, invenio-postgresql, invenio-rabbitmq, invenio-redis, invenio-saml)\n" +
				"platform.yaml:17: environments[1].sealing.controllerNamespace: is \"shared-services\", but environment dev (line 6) in the same cluster \"lab\" has \"kube-system\": a cluster runs one such controller, so environments sharing it must agree\n" +
				"platform.yaml:18: environments[2].name: \"source\" is reserved: clusters/<cluster>/source.yaml holds the cluster's own Flux objects; choose another environment name"},
		{"backup values", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: true
      schedule: "0 25 * * *"
      keepDaily: 0
      target:
        s3:
          endpoint: http://s3.example.org
          bucket: Invenio_Backups
          prefix: /prod/
          egressCIDRs: [198.51.100.0/24]
      restoreCheck: {schedule: "@monthly"}
  - name: test
    namespace: invenio-test
    host: test.example.org
    backup:
      schedule: "*/0 2 * * 1-0"
      keepDaily: 4000
      target: {s3: {bucket: 192.168.1.10}}
`,
			"platform.yaml:11: environments[0].backup.schedule: \"0 25 * * *\" is not a schedule the API server accepts: end of range (25) above maximum (23): 25; write minute hour day-of-month month day-of-week (0-6, Sunday is 0), e.g. \"0 2 * * *\" for 02:00 UTC every day\n" +
				"platform.yaml:12: environments[0].backup.keepDaily: \"0\" is not a count from 1 to 3650: keep at least one backup, e.g. 30\n" +
				"platform.yaml:15: environments[0].backup.target.s3.endpoint: \"http://s3.example.org\" is not an https:// URL\n" +
				"platform.yaml:16: environments[0].backup.target.s3.bucket: \"Invenio_Backups\" is not an S3 bucket name: use 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, e.g. \"invenio-backups\"\n" +
				"platform.yaml:17: environments[0].backup.target.s3.prefix: \"/prod/\" is not a path inside a bucket: use segments of letters, digits, '.', '_' and '-' separated by '/', without a leading or trailing '/', e.g. \"invenio/prod\"\n" +
				"platform.yaml:24: environments[1].backup.schedule: \"*/0 2 * * 1-0\" is not a schedule the API server accepts: step of range should be a positive number: */0; write minute hour day-of-month month day-of-week (0-6, Sunday is 0), e.g. \"0 2 * * *\" for 02:00 UTC every day\n" +
				"platform.yaml:25: environments[1].backup.keepDaily: \"4000\" is not a count from 1 to 3650: keep at least one backup, e.g. 30\n" +
				"platform.yaml:26: environments[1].backup.target.s3.bucket: \"192.168.1.10\" is not an S3 bucket name: use 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, e.g. \"invenio-backups\""},
		{"backup targets", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
  backup:
    enabled: true
    target:
      volume: {storageClass: nfs-backup, size: 100Gi}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      target:
        s3: {endpoint: https://s3.example.org, bucket: backups}
  - name: test
    namespace: invenio-test
    host: test.example.org
    backup:
      target:
        volume: {storageClass: nfs-backup}
  - name: prod
    namespace: invenio-prod
    host: prod.example.org
    backup:
      schedule: "0 2 * * 1-5/2,6"
      target: {}
      resources:
        requests: {cpu: "2"}
`,
			"platform.yaml:15: environments[0].backup.target: sets both s3 (line 15) and volume (line 8): keep exactly one; a target inherited from defaults: cannot be unset, so set targets in the environments\n" +
				"platform.yaml:29: environments[2].backup.resources.requests.cpu: request 2 is above the limit 1: lower the request or raise the limit"},
		{"backward cron range", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: false
      schedule: "0 3 * * 5-1"
`,
			"platform.yaml:11: environments[0].backup.schedule: \"0 3 * * 5-1\" is not a schedule the API server accepts: beginning of range (5) beyond end of range (1): 5-1; write minute hour day-of-month month day-of-week (0-6, Sunday is 0), e.g. \"0 2 * * *\" for 02:00 UTC every day"},
		{"backup target missing fields", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      enabled: true
      target:
        volume: {size: 10Gi}
  - name: test
    namespace: invenio-test
    host: test.example.org
    backup:
      enabled: true
      target:
        s3: {prefix: test}
  - name: prod
    namespace: invenio-prod
    host: prod.example.org
    backup: {enabled: true}
`,
			"platform.yaml:12: environments[0].backup.target.volume.storageClass: is required: name the StorageClass of the backup volume, e.g. nfs-backup\n" +
				"platform.yaml:19: environments[1].backup.target.s3.endpoint: is required: give the object store's HTTPS URL, e.g. https://s3.example.org\n" +
				"platform.yaml:19: environments[1].backup.target.s3.bucket: is required: name the bucket, e.g. invenio-backups\n" +
				"platform.yaml:19: environments[1].backup.target.s3.egressCIDRs: is required: list the networks the object store answers from, e.g. [198.51.100.0/24]: the backup pods may reach nothing else outside\n" +
				"platform.yaml:23: environments[2].backup.target: is required when backup.enabled is true: give exactly one of s3 (endpoint, bucket, prefix, egressCIDRs) or volume (storageClass, size)"},
		{"restore without the backups it reads", `site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    backup:
      restore: {enabled: true}
  - name: prod
    namespace: invenio-prod
    host: prod.example.org
    backup:
      enabled: true
      database: false
      target:
        volume: {storageClass: nfs, size: 10Gi}
      restore:
        enabled: true
`,
			"platform.yaml:10: environments[0].backup.restore.enabled: needs backup.enabled: true: the restore reads the backups at backup.target\n" +
				"platform.yaml:20: environments[1].backup.restore.enabled: needs backup.database: true: an environment is restored from its database dump (files and indices follow it)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := parseTest(c.yaml)
			if err == nil {
				t.Fatalf("Parse accepted the description: %+v", p)
			}
			if p != nil {
				t.Errorf("Parse returned a platform along with the error")
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("error is a %T, want *config.Error", err)
			}
			if diff := cmp.Diff(c.want, err.Error()); diff != "" {
				t.Errorf("error text (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRepositoryDescription loads the fixture repository's platform.yaml and
// checks the layering: Go default → defaults: → environment.
func TestRepositoryDescription(t *testing.T) {
	p, err := Load(testrepo.Platform)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]Environment{}
	var names []string
	for _, e := range p.Environments {
		env[string(e.Name)] = e
		names = append(names, string(e.Name))
		if e.Line == 0 {
			t.Errorf("%s: Line not recorded", e.Name)
		}
	}
	if diff := cmp.Diff([]string{"dev", "test", "prod"}, names); diff != "" {
		t.Fatalf("environments in file order (-want +got):\n%s", diff)
	}
	if p.Site.Name != "lbnl-data-repository" || p.Site.PartOf != "inveniordm" || p.Site.ManagedBy != "invenio-gitops" {
		t.Errorf("site = %+v: name from the file, partOf and managedBy from DefaultSite", p.Site)
	}
	if p.Defaults.Name != "" || p.Defaults.Image.Tag != "v12.0.10-lbnl.1" {
		t.Errorf("defaults: name %q, image tag %q", p.Defaults.Name, p.Defaults.Image.Tag)
	}

	type check struct {
		what string
		get  func(Environment) string
		want map[string]string // env → value
	}
	all := func(v string) map[string]string { return map[string]string{"dev": v, "test": v, "prod": v} }
	on := func(w Workload) string {
		if w.On() {
			return "on"
		}
		return "off"
	}
	for _, c := range []check{
		// Set only in defaults: reaches every environment.
		{"image.repository", func(e Environment) string { return string(e.Image.Repository) }, all("ghcr.io/lbnl/lbnl-data-repository")},
		{"database.name", func(e Environment) string { return string(e.Database.Name) }, all("lbnl-data-repository")},
		{"app.siteName", func(e Environment) string { return e.App.SiteName }, all("LBNL Data Repository")},
		// Set in defaults and overridden by one environment.
		{"image.tag", func(e Environment) string { return string(e.Image.Tag) }, map[string]string{"dev": "v12.0.10-lbnl.2", "test": "v12.0.10-lbnl.1", "prod": "v12.0.10-lbnl.1"}},
		{"ingress.clusterIssuer", func(e Environment) string { return string(e.Ingress.ClusterIssuer) }, map[string]string{"dev": "letsencrypt-staging", "test": "letsencrypt-prod", "prod": "letsencrypt-prod"}},
		// Go default overridden by some environments only.
		{"storage.postgresql", func(e Environment) string { return e.Storage.PostgreSQL.String() }, map[string]string{"dev": "10Gi", "test": "20Gi", "prod": "50Gi"}},
		{"app.logLevel", func(e Environment) string { return string(e.App.LogLevel) }, map[string]string{"dev": "DEBUG", "test": "INFO", "prod": "INFO"}},
		{"auth.mode", func(e Environment) string { return string(e.Auth.Mode) }, map[string]string{"dev": "password", "test": "password", "prod": "saml"}},
		{"workloads.frontend.replicas", func(e Environment) string { return fmt.Sprint(e.Workloads.Frontend.Replicas) }, map[string]string{"dev": "1", "test": "2", "prod": "2"}},
		{"workloads.webUI.autoscaling", func(e Environment) string {
			a := e.Workloads.WebUI.Autoscaling
			return fmt.Sprintf("%v %d-%d cpu %d%% memory %d%% %s", a.Enabled, a.MinReplicas, a.MaxReplicas, a.CPU, a.Memory, a.ScaleDownStabilization)
		}, map[string]string{"dev": "false 2-4 cpu 70% memory 80% 5m", "test": "true 2-3 cpu 70% memory 80% 5m", "prod": "true 3-6 cpu 70% memory 80% 5m"}},
		{"monitoring.enabled", func(e Environment) string { return fmt.Sprint(e.Monitoring.Enabled) }, map[string]string{"dev": "false", "test": "true", "prod": "true"}},
		{"reports.largestFiles", func(e Environment) string {
			r := e.Reports.LargestFiles
			return fmt.Sprintf("%v %q top %d", r.Enabled, r.Schedule, r.Top)
		}, all(`true "17 3 * * *" top 20`)},
		// Setting limits only keeps the Go default requests, and the other way round.
		{"workloads.opensearch.resources.limits.memory", func(e Environment) string { return e.Workloads.OpenSearch.Resources.Limits.Memory.String() }, map[string]string{"dev": "2Gi", "test": "2Gi", "prod": "8Gi"}},
		// Untouched anywhere: keeps the Go default.
		{"storage.readWriteOnceClass", func(e Environment) string { return string(e.Storage.ReadWriteOnceClass) }, all("ceph-rbd")},
		{"storage.redis", func(e Environment) string { return e.Storage.Redis.String() }, all("1Gi")},
		{"app.uwsgiThreads", func(e Environment) string { return fmt.Sprint(e.App.UWSGIThreads) }, all("4")},
		{"secrets.app", func(e Environment) string { return string(e.Secrets.App) }, all("invenio-app")},
		{"auth.saml.emailAttribute", func(e Environment) string { return e.Auth.SAML.EmailAttribute }, all("urn:oid:0.9.2342.19200300.100.1.3")},
		{"ingress.controllerLabels", func(e Environment) string { return fmt.Sprint(e.Ingress.ControllerLabels) }, all("map[app.kubernetes.io/component:controller app.kubernetes.io/name:ingress-nginx]")},
		// Optional workloads: enabling one does not enable the other, nor
		// the same one in another environment.
		{"workloads.dashboards.enabled", func(e Environment) string { return on(e.Workloads.Dashboards) }, map[string]string{"dev": "on", "test": "on", "prod": "off"}},
		{"workloads.pgadmin.enabled", func(e Environment) string { return on(e.Workloads.PgAdmin) }, map[string]string{"dev": "on", "test": "off", "prod": "off"}},
	} {
		for _, name := range names {
			if got := c.get(env[name]); got != c.want[name] {
				t.Errorf("%s: %s = %q, want %q", name, c.what, got, c.want[name])
			}
		}
	}
	if got := on(p.Defaults.Workloads.Dashboards) + "/" + on(p.Defaults.Workloads.PgAdmin); got != "off/off" {
		t.Errorf("defaults: dashboards/pgadmin = %s, want off/off", got)
	}
}

// TestLayering checks each layer on a small description, including the
// cases the repository's platform.yaml does not exercise.
func TestLayering(t *testing.T) {
	p, err := parseTest(`site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
  storage:
    files: 500Gi
  workloads:
    dashboards: {enabled: true}
    worker:
      resources:
        limits: {memory: 3Gi}
  ingress:
    controllerLabels: {app: traefik, tier: edge}
environments:
  - name: a
    namespace: a
    host: a.example.org
  - name: b
    namespace: b
    host: b.example.org
    storage:
      files: 1Ti
    workloads:
      dashboards: {enabled: false}
      pgadmin: {enabled: true}
    ingress:
      controllerLabels: {app: haproxy}
`)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Environments[0], p.Environments[1]
	for _, c := range []struct{ what, got, want string }{
		{"a storage.files (from defaults)", a.Storage.Files.String(), "500Gi"},
		{"b storage.files (environment wins)", b.Storage.Files.String(), "1Ti"},
		{"a storage.postgresql (Go default)", a.Storage.PostgreSQL.String(), "20Gi"},
		{"defaults storage.files", p.Defaults.Storage.Files.String(), "500Gi"},
		{"a worker limits.memory (from defaults)", a.Workloads.Worker.Resources.Limits.Memory.String(), "3Gi"},
		{"a worker limits.cpu (Go default beside it)", a.Workloads.Worker.Resources.Limits.CPU.String(), "1"},
		{"a worker requests.memory (Go default)", a.Workloads.Worker.Resources.Requests.Memory.String(), "768Mi"},
		{"a dashboards", fmt.Sprint(a.Workloads.Dashboards.On()), "true"},
		{"a pgadmin", fmt.Sprint(a.Workloads.PgAdmin.On()), "false"},
		{"b dashboards", fmt.Sprint(b.Workloads.Dashboards.On()), "false"},
		{"b pgadmin", fmt.Sprint(b.Workloads.PgAdmin.On()), "true"},
		{"defaults pgadmin", fmt.Sprint(p.Defaults.Workloads.PgAdmin.On()), "false"},
		// A map set by a layer replaces the map below it; it is not merged.
		{"a controllerLabels (defaults replace the Go default)", fmt.Sprint(a.Ingress.ControllerLabels), "map[app:traefik tier:edge]"},
		{"b controllerLabels (environment replaces defaults)", fmt.Sprint(b.Ingress.ControllerLabels), "map[app:haproxy]"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}
	// The layers never share state: the Go defaults come out fresh.
	d := Defaults()
	if d.Workloads.Dashboards.On() || d.Workloads.PgAdmin.On() || len(d.Ingress.ControllerLabels) != 2 {
		t.Errorf("Defaults() was changed by a Parse: %+v %v", d.Workloads.Dashboards, d.Ingress.ControllerLabels)
	}
}

// TestLoadUnreadable: a file that cannot be read is named as given, with
// why, and the error is still a not-exist error to errors.Is.
func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ path, want string }{
		{"testdata/does-not-exist.yaml", "testdata/does-not-exist.yaml: no such file or directory"},
		{dir, dir + ": is a directory"},
	} {
		_, err := Load(c.path)
		if err == nil || err.Error() != c.want {
			t.Errorf("Load(%q): %v, want %s", c.path, err, c.want)
		}
	}
	if _, err := Load("testdata/does-not-exist.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want a not-exist error", err)
	}
}

// parseTest parses a test description, adding the sections every
// description needs (gitops, infrastructure) unless the case sets them:
// appended at the end so that the cases' line numbers stay put.
func parseTest(yaml string) (*Platform, error) {
	if !strings.Contains(yaml, "\nenvironments:") {
		return Parse("platform.yaml", []byte(yaml)) // not a description at all
	}
	if !strings.Contains(yaml, "\ngitops:") {
		yaml += "\ngitops: {url: ssh://git@git.example.org/lab/platform.git}\n"
	}
	if !strings.Contains(yaml, "\ninfrastructure:") {
		yaml += "infrastructure: {acme: {email: ops@example.org}}\n"
	}
	return Parse("platform.yaml", []byte(yaml))
}

// TestClusterDefaultsToEnvironmentName: one cluster per environment unless
// the description says otherwise, through defaults: or the entry.
func TestClusterDefaultsToEnvironmentName(t *testing.T) {
	p, err := parseTest(`site:
  name: x
defaults:
  image: {repository: ghcr.io/lbnl/invenio, tag: v1}
environments:
  - {name: dev, namespace: invenio-dev, host: dev.example.org, cluster: lab}
  - {name: test, namespace: invenio-test, host: test.example.org, cluster: lab}
  - {name: prod, namespace: invenio-prod, host: prod.example.org}
`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Environments {
		got = append(got, string(e.Name)+"@"+string(e.Cluster))
	}
	if diff := cmp.Diff([]string{"dev@lab", "test@lab", "prod@prod"}, got); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	if p.GitOps.Branch != "main" || p.GitOps.Interval != "10m" || !p.Infrastructure.SealedSecrets.On() {
		t.Errorf("gitops/infrastructure defaults not applied: %+v %+v", p.GitOps, p.Infrastructure)
	}
}

// TestIdleTimeoutSeconds: the accepted spellings of ingress.idleTimeout and
// the whole seconds every hop is given.
func TestIdleTimeoutSeconds(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want int64
	}{
		{"", 180}, // the Go default
		{"ingress: {idleTimeout: 180s}", 180},
		{"ingress: {idleTimeout: 3m}", 180},
		{"ingress: {idleTimeout: 1s}", 1},
		{"ingress: {idleTimeout: 1m30s}", 90},
		{"ingress: {idleTimeout: 1500ms}", -1}, // not whole seconds: rejected
		{"ingress: {idleTimeout: 1h}", 3600},
		{"ingress: {idleTimeout: 60m}", 3600},
		{"ingress: {idleTimeout: 3600001ms}", -1}, // above 1h: rejected
	} {
		t.Run(c.yaml, func(t *testing.T) {
			p, err := parseTest(`site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
    ` + c.yaml + `
`)
			if c.want < 0 {
				if err == nil {
					t.Fatalf("accepted, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Environments[0].Ingress.IdleTimeout.Seconds(); got != c.want {
				t.Errorf("Seconds() = %d, want %d", got, c.want)
			}
		})
	}
}

// TestEveryProblemHasALine: the fixture's description broken at every
// line in the ways hands break YAML — each problem still names the file
// and a line of it.
func TestEveryProblemHasALine(t *testing.T) {
	good, err := os.ReadFile(testrepo.Platform)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	problem := regexp.MustCompile(`^platform\.yaml:([0-9]+): \S`)
	breaks := []string{"\t", " ", "- ", "[", "{", "\"", "'", "*x ", "&", "!!int ", "<<: 1\n", "@", "%", "\x00", "\xe9", "\x7f", "a: b: ", "---\n"}
	for i := range lines {
		for _, b := range breaks {
			broken := strings.Join(lines[:i], "") + b + strings.Join(lines[i:], "")
			_, err := Parse("platform.yaml", []byte(broken))
			if err == nil {
				continue
			}
			for _, m := range strings.Split(err.Error(), "\n") {
				sub := problem.FindStringSubmatch(m)
				if sub == nil {
					t.Errorf("line %d broken with %q: %q names no file and line", i+1, b, m)
					continue
				}
				if n, _ := strconv.Atoi(sub[1]); n < 1 || n > len(lines)+1 {
					t.Errorf("line %d broken with %q: %q names a line the file does not have", i+1, b, m)
				}
			}
		}
	}
}

// TestSuggestionsAreValid: the name a message suggests in place of an
// invalid one is itself valid, whatever the input.
func TestSuggestionsAreValid(t *testing.T) {
	long := strings.Repeat("x", 70)
	for _, c := range []struct{ in, name, label string }{
		{"a.b..c", "a.b.c", "a-b-c"},
		{"https://Dev.Example.org/", "https-dev.example.org", "https-dev-example-org"},
		{".-a-.-b-.", "a.b", "a---b"},
		{"...", "invenio.example.org", "invenio"},
		{"", "invenio.example.org", "invenio"},
		{"Ünïcode_Host.org", "n-code-host.org", "n-code-host-org"},
		{long + "." + long, strings.Repeat("x", 63) + "." + strings.Repeat("x", 63), strings.Repeat("x", 63)},
		{strings.Repeat("abcdefgh.", 40) + "org", strings.TrimPrefix(strings.Repeat(".abcdefgh", 27), ".") + ".org", ""},
	} {
		name := suggestName(c.in)
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			t.Errorf("suggestName(%q) = %q, not a DNS name: %v", c.in, name, errs)
		}
		if name != c.name {
			t.Errorf("suggestName(%q) = %q, want %q", c.in, name, c.name)
		}
		label := suggestLabel(c.in)
		if errs := validation.IsDNS1123Label(label); len(errs) > 0 {
			t.Errorf("suggestLabel(%q) = %q, not a DNS label: %v", c.in, label, errs)
		}
		if c.label != "" && label != c.label {
			t.Errorf("suggestLabel(%q) = %q, want %q", c.in, label, c.label)
		}
	}
}

// TestEmptyDocumentsAccepted: a lone '---' before or after the
// description is an empty document, not a second description.
func TestEmptyDocumentsAccepted(t *testing.T) {
	const desc = `site:
  name: x
environments:
  - name: dev
    namespace: invenio-dev
    host: dev.example.org
    image: {repository: ghcr.io/lbnl/invenio, tag: v1}
gitops: {url: ssh://git@git.example.org/lab/platform.git}
infrastructure: {acme: {email: ops@example.org}}
`
	for _, text := range []string{desc + "---\n", "---\n" + desc + "---\n# the end\n", desc + "---\n...\n"} {
		p, err := Parse("platform.yaml", []byte(text))
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if len(p.Environments) != 1 || p.Environments[0].Name != "dev" {
			t.Errorf("Parse(%q): environments %+v", text, p.Environments)
		}
	}
}

// TestSecretsNamesEveryField: Secrets.Names lists every field, so a new
// Secret of the description is known to the checks that read it.
func TestSecretsNamesEveryField(t *testing.T) {
	var s Secrets
	v := reflect.ValueOf(&s).Elem()
	for i := 0; i < v.NumField(); i++ {
		v.Field(i).SetString(v.Type().Field(i).Name)
	}
	var want []string
	for i := 0; i < v.NumField(); i++ {
		want = append(want, v.Type().Field(i).Name)
	}
	if diff := cmp.Diff(want, s.Names()); diff != "" {
		t.Errorf("Secrets.Names (-fields +names):\n%s", diff)
	}
}
