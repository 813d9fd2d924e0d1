package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validate checks what no single field can check on its own.
func (l *loader) validate(p *Platform, root *yaml.Node, top *topLevel) {
	if len(p.Environments) == 0 {
		line := root.Line
		if n := mappingValue(root, "environments"); n != nil {
			line = n.Line
		}
		l.add(line, "environments", "no environment is described: add at least one, e.g. '- name: dev' with namespace and host")
		return
	}
	l.texts(p)
	if p.Site.Name == "" {
		l.add(root.Line, "site.name", "is required: the instance name, e.g. lbnl-data-repository")
	}
	topLine := func(path string) int {
		for p := path; p != ""; {
			if n := nodeAt(root, p); n != nil {
				return n.Line
			}
			i := strings.LastIndex(p, ".")
			if i < 0 {
				break
			}
			p = p[:i]
		}
		return root.Line
	}
	if p.GitOps.URL == "" {
		l.add(topLine("gitops.url"), "gitops.url", "is required: the URL Flux clones this repository from, e.g. ssh://git@github.com/lbnl/platform-gitops.git")
	}
	if p.Infrastructure.ACME.Email == "" {
		l.add(topLine("infrastructure.acme.email"), "infrastructure.acme.email", "is required: the contact address of the ACME account, e.g. ops@example.org")
	}
	for name := range p.Infrastructure.ACME.Servers {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			l.add(topLine("infrastructure.acme.servers."+name), "infrastructure.acme.servers", fmt.Sprintf("%q is not a valid ClusterIssuer name: use lower-case letters, digits, '-' and '.'", name))
		}
	}
	l.clusters(p, top)
	// What a cluster runs once must agree between the environments in it.
	type shared struct {
		env  string
		line int
		what string
	}
	clusterFacts := map[string]shared{}
	seenName := map[DNSLabel]int{}
	seenNS := map[DNSLabel]int{}
	seenHost := map[DNSName]int{}
	for i := range p.Environments {
		e := &p.Environments[i]
		v := envValidator{l: l, env: &top.Environments[i], defaults: &top.Defaults, path: fmt.Sprintf("environments[%d]", i), line: e.Line}
		v.required("name", e.Name != "", "give the environment a name, e.g. dev")
		v.required("namespace", e.Namespace != "", "name the namespace, e.g. invenio-"+string(e.Name))
		v.required("host", e.Host != "", "give the public host name, e.g. invenio.example.org")
		v.required("image.repository", e.Image.Repository != "", "name the InvenioRDM image, e.g. ghcr.io/lbnl/invenio")
		v.required("image.tag", e.Image.Tag != "", "pin the InvenioRDM image tag, e.g. v12.0.10")
		if e.Name == "source" || e.Name == "infrastructure" {
			v.problem("name", fmt.Sprintf("%q is reserved: clusters/<cluster>/%s.yaml holds the cluster's own Flux objects; choose another environment name", e.Name, e.Name))
		}
		if e.Name != "" {
			if prev, dup := seenName[e.Name]; dup {
				v.problem("name", fmt.Sprintf("environment %q is already described at line %d: give each environment its own name", e.Name, prev))
			}
			seenName[e.Name] = v.lineOf("name")
		}
		if e.Namespace != "" {
			if prev, dup := seenNS[e.Namespace]; dup {
				v.problem("namespace", fmt.Sprintf("namespace %q is already used by the environment at line %d: each environment needs its own namespace", e.Namespace, prev))
			}
			seenNS[e.Namespace] = v.lineOf("namespace")
		}
		if e.Host != "" {
			if prev, dup := seenHost[e.Host]; dup {
				v.problem("host", fmt.Sprintf("host %q is already used by the environment at line %d: each environment needs its own host", e.Host, prev))
			}
			seenHost[e.Host] = v.lineOf("host")
		}
		if errs := validation.IsDNS1035Label(string(e.Sealing.ControllerName)); e.Sealing.ControllerName != "" && len(errs) > 0 {
			v.problem("sealing.controllerName", fmt.Sprintf("%q cannot name the controller's Service (the chart names it so, and kubeseal finds it by it): %s; e.g. sealed-secrets-controller", e.Sealing.ControllerName, strings.Join(errs, "; ")))
		}
		// The HelmRelease's releaseName (flux/infrastructure.go): Helm and
		// the HelmRelease CRD take at most 53 characters.
		if n := len(e.Sealing.ControllerName); n > maxReleaseName {
			v.problem("sealing.controllerName", fmt.Sprintf("%q is %d characters: it is the sealed-secrets HelmRelease's releaseName, which Helm limits to %d; shorten it", e.Sealing.ControllerName, n, maxReleaseName))
		}
		if e.Host != "" && net.ParseIP(string(e.Host)) != nil {
			v.problem("host", fmt.Sprintf("%q is an IP address: an Ingress host must be a DNS name (the API server refuses an IP), and a certificate is issued for a name; give the name that resolves to the ingress, e.g. invenio.example.org", e.Host))
		}
		secv := reflect.ValueOf(e.Secrets)
		for i := 0; i < secv.NumField(); i++ {
			name := secv.Field(i).String()
			if len(name) > validation.LabelValueMaxLength {
				v.problem("secrets."+yamlName(secv.Type().Field(i)), fmt.Sprintf("%q is %d characters: the SealedSecret carries it as its app.kubernetes.io/name label, at most %d; shorten it", name, len(name), validation.LabelValueMaxLength))
			}
		}
		v.wholeBytes(reflect.ValueOf(*e), "")
		v.labels("ingress.controllerLabels", e.Ingress.ControllerLabels)
		v.labels("ingress.gateway.dataPlaneLabels", e.Ingress.Gateway.DataPlaneLabels)
		v.annotations("ingress.annotations", e.Ingress.Annotations)
		v.labels("ingress.route.routerNamespaceLabels", e.Ingress.Route.RouterNamespaceLabels)
		if c := p.Cluster(e.Cluster); c.Distribution == DistributionOpenShift && e.Ingress.Exposure.Gateway() && e.Ingress.Gateway.ClassName == EnvoyGatewayClass && p.Infrastructure.EnvoyGateway.On() {
			v.problem("ingress.exposure", fmt.Sprintf("%s with the Envoy Gateway the generator installs (class %s) on cluster %q, which is OpenShift: OpenShift manages the Gateway API CRDs itself and refuses another installer's; use route, or OpenShift's own Gateway API implementation (ingress.gateway.className, dataPlaneNamespace and dataPlaneLabels of it)", e.Ingress.Exposure, EnvoyGatewayClass, e.Cluster))
		}
		if e.Ingress.Exposure.Route() {
			if c := p.Cluster(e.Cluster); c.Distribution != DistributionOpenShift {
				where := fmt.Sprintf("the description does not list cluster %q under clusters: add '- name: %s' with 'distribution: openshift' there if it is one", e.Cluster, e.Cluster)
				if c.Line > 0 {
					where = fmt.Sprintf("cluster %q is described as %s at line %d: set distribution: openshift there if it is OpenShift", e.Cluster, c.Distribution, c.Line)
				}
				v.problem("ingress.exposure", fmt.Sprintf("route needs an OpenShift cluster, whose router serves Routes, and %s; otherwise use gateway", where))
			}
			if len(e.Ingress.Route.RouterNamespaceLabels) == 0 {
				v.problem("ingress.route.routerNamespaceLabels", "is empty: name the labels of the namespace the router's traffic comes from (OpenShift's is {policy-group.network.openshift.io/ingress: \"\"}), or the frontend's NetworkPolicy would admit every namespace")
			}
		}
		v.labels("monitoring.prometheusLabels", e.Monitoring.PrometheusLabels)
		v.labels("monitoring.selectorLabels", e.Monitoring.SelectorLabels)
		if e.Namespace != "" {
			if owner := namespaceOwner(p, e); owner != "" {
				v.problem("namespace", fmt.Sprintf("%q is %s: the environment's namespace gets a default-deny NetworkPolicy and Pod Security \"restricted\", which would break what runs there; give the environment a namespace of its own, e.g. invenio-%s", e.Namespace, owner, e.Name))
			}
		}
		v.workloads(&e.Workloads)
		if up := e.Ingress.MaxUploadSize; up.Cmp(minUploadSize) < 0 {
			v.problem("ingress.maxUploadSize", fmt.Sprintf("%s is less than 1Mi: InvenioRDM would refuse nearly every file (a unit mistake?); write the largest file to accept, at least 1Mi, e.g. 50Gi", up.String()))
		}
		if _, ok := p.Infrastructure.ACME.Servers[string(e.Ingress.ClusterIssuer)]; !ok {
			v.problem("ingress.clusterIssuer", fmt.Sprintf("%q is not one of the ClusterIssuers in infrastructure.acme.servers (%s): use one of them or add it there", e.Ingress.ClusterIssuer, strings.Join(slices.Sorted(maps.Keys(p.Infrastructure.ACME.Servers)), ", ")))
		}
		secretNames := map[string]bool{}
		sv := reflect.ValueOf(e.Secrets)
		for i := 0; i < sv.NumField(); i++ {
			secretNames[sv.Field(i).String()] = true
		}
		for name := range e.Sealing.Scopes {
			if !secretNames[name] {
				v.problem("sealing.scopes."+name, fmt.Sprintf("%q is not a Secret of this environment: scopes are set per Secret name (%s)", name, strings.Join(slices.Sorted(maps.Keys(secretNames)), ", ")))
			}
		}
		facts := map[string]string{
			"sealing.controllerName":      string(e.Sealing.ControllerName),
			"sealing.controllerNamespace": string(e.Sealing.ControllerNamespace),
			"ingress.controllerNamespace": string(e.Ingress.ControllerNamespace),
			"ingress.className":           string(e.Ingress.ClassName),
			// The chart's pod labels are the first environment's; the
			// others' NetworkPolicies would admit pods that do not exist.
			"ingress.controllerLabels": labelsString(e.Ingress.ControllerLabels),
			// One Gateway API implementation per cluster, too.
			"ingress.gateway.className":          string(e.Ingress.Gateway.ClassName),
			"ingress.gateway.dataPlaneNamespace": string(e.Ingress.Gateway.DataPlaneNamespace),
			"ingress.gateway.dataPlaneLabels":    labelsString(e.Ingress.Gateway.DataPlaneLabels),
			// And one default router.
			"ingress.route.routerNamespaceLabels": labelsString(e.Ingress.Route.RouterNamespaceLabels),
		}
		for _, field := range slices.Sorted(maps.Keys(facts)) {
			key := string(e.Cluster) + "\x00" + field
			if prev, ok := clusterFacts[key]; ok && prev.what != facts[field] {
				v.problem(field, fmt.Sprintf("is %q, but environment %s (line %d) in the same cluster %q has %q: a cluster runs one such controller, so environments sharing it must agree", facts[field], prev.env, prev.line, e.Cluster, prev.what))
			} else if !ok {
				clusterFacts[key] = shared{string(e.Name), v.lineOf(field), facts[field]}
			}
		}
		if e.Auth.Mode == AuthSAML {
			s := e.Auth.SAML
			v.required("auth.saml.idp", s.IdP != "", "name the identity provider, e.g. lbl")
			v.required("auth.saml.metadataURL", s.MetadataURL != "", "give the IdP metadata URL, e.g. https://login.example.org/idp/shibboleth")
			v.required("auth.saml.egressCIDRs", len(s.EgressCIDRs) > 0, "list the networks the IdP answers from, e.g. [198.128.0.0/16]")
			if s.MetadataURL != "" {
				v.samlMetadataURL(s.MetadataURL)
			}
		}
		if e.Monitoring.Enabled && len(e.Monitoring.PrometheusLabels) == 0 {
			v.problem("monitoring.prometheusLabels", "is empty: name the labels of the Prometheus pods (e.g. {app.kubernetes.io/name: prometheus}), or the exporters' NetworkPolicies would let every pod of the namespace scrape them")
		}
		if iv := string(e.Monitoring.Interval); iv != "" && !promDuration.MatchString(iv) {
			v.problem("monitoring.interval", fmt.Sprintf("%q is not a Prometheus duration: write whole units without fractions, e.g. 30s or 1m30s", iv))
		}
		if e.Reports.LargestFiles.Enabled && e.Reports.LargestFiles.Top < 1 {
			v.problem("reports.largestFiles.top", "0 files: write how many of the largest files to list, from 1 to 100")
		}
		v.backup(&e.Backup)
		if e.Search.HeapSize.Value()%(1<<20) != 0 {
			v.problem("search.heapSize", fmt.Sprintf("%s is not a whole number of MiB: the JVM's -Xms and -Xmx take megabytes, so it would become -Xmx%dm; write e.g. 512Mi or 1Gi", e.Search.HeapSize.String(), e.Search.HeapSize.Value()>>20))
		}
		heap := e.Search.HeapSize.Quantity
		half := e.Workloads.OpenSearch.Resources.Limits.Memory.Quantity.DeepCopy()
		half = *resource.NewQuantity(half.Value()/2, resource.BinarySI)
		if heap.Cmp(half) > 0 {
			v.problem("search.heapSize", fmt.Sprintf("heap %s is more than half of the OpenSearch memory limit %s: OpenSearch needs the other half for the file-system cache; lower heapSize to %s or raise workloads.opensearch.resources.limits.memory", heap.String(), e.Workloads.OpenSearch.Resources.Limits.Memory.String(), half.String()))
		}
	}
}

// clusters checks the clusters section: each entry named once, and named
// by an environment (an entry nobody runs in is a typo of a name).
func (l *loader) clusters(p *Platform, top *topLevel) {
	used := map[DNSLabel]bool{}
	var names []string
	for _, e := range p.Environments {
		if !used[e.Cluster] {
			names = append(names, string(e.Cluster))
		}
		used[e.Cluster] = true
	}
	seen := map[DNSLabel]int{}
	for i, c := range p.Clusters {
		path := fmt.Sprintf("clusters[%d]", i)
		line := c.Line
		if n := mappingValue(&top.Clusters[i], "name"); n != nil {
			line = n.Line
		}
		switch {
		case c.Name == "":
			l.add(line, path+".name", "is required: the cluster's name as environments[].cluster gives it, e.g. "+names[0])
		case seen[c.Name] > 0:
			l.add(line, path+".name", fmt.Sprintf("cluster %q is already described at line %d: describe each cluster once", c.Name, seen[c.Name]))
		case !used[c.Name]:
			l.add(line, path+".name", fmt.Sprintf("no environment runs in cluster %q: environments[].cluster (default: the environment's name) names %s; correct the name or drop the entry", c.Name, strings.Join(names, ", ")))
		}
		if c.Name != "" && seen[c.Name] == 0 {
			seen[c.Name] = line
		}
	}
}

type envValidator struct {
	l             *loader
	env, defaults *yaml.Node
	path          string
	line          int
}

// lineOf finds where a field was set: in the environment, else in
// defaults, else the environment's first line.
func (v envValidator) lineOf(field string) int {
	if n := nodeAt(v.env, field); n != nil {
		return n.Line
	}
	if n := nodeAt(v.defaults, field); n != nil {
		return n.Line
	}
	return v.line
}

// nearLine is lineOf for a field that may be absent: the line of the
// nearest enclosing mapping that is there.
func (v envValidator) nearLine(field string) int {
	for f := field; ; {
		if n := nodeAt(v.env, f); n != nil {
			return n.Line
		}
		if n := nodeAt(v.defaults, f); n != nil {
			return n.Line
		}
		i := strings.LastIndex(f, ".")
		if i < 0 {
			return v.line
		}
		f = f[:i]
	}
}

// requiredNear is required, reported at nearLine.
func (v envValidator) requiredNear(field string, ok bool, fix string) {
	if !ok {
		v.l.add(v.nearLine(field), v.path+"."+field, "is required: "+fix)
	}
}

func (v envValidator) problem(field, msg string) {
	v.l.add(v.lineOf(field), v.path+"."+field, msg)
}

func (v envValidator) required(field string, ok bool, fix string) {
	if !ok {
		v.problem(field, "is required: "+fix)
	}
}

// singletons cannot run more than one replica with the configuration the
// generator writes (no replication, clustering or leader election).
var singletons = map[string]string{
	"beat":       "Celery beat must run exactly one replica, or tasks run twice",
	"setup":      "the setup Job runs once per release",
	"postgresql": "PostgreSQL runs one instance (no replication configured)",
	"redis":      "Redis runs one instance (no replication configured)",
	"rabbitmq":   "RabbitMQ runs one node (no clustering configured)",
	"opensearch": "OpenSearch runs as a single node (discovery.type single-node)",
	"dashboards": "OpenSearch Dashboards runs one instance",
	"pgadmin":    "pgAdmin keeps state on a ReadWriteOnce volume",
}

var optionalWorkloads = map[string]bool{"dashboards": true, "pgadmin": true}

// scalable are the workloads that may autoscale: stateless, behind a
// Service or a queue, with nothing that breaks when two run at once.
var scalable = map[string]bool{"webUI": true, "webAPI": true, "frontend": true, "worker": true}

// promDuration is the Prometheus Operator's duration pattern (its CRDs
// reject anything else), for the units a scrape interval uses.
var promDuration = regexp.MustCompile(`^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$`)

// minUploadSize is the smallest ingress.maxUploadSize: below it nearly
// every upload is refused, which is a unit mistake rather than a choice.
var minUploadSize = resource.MustParse("1Mi")

// maxStabilization is the HPA API's limit on a stabilization window.
const maxStabilization = time.Hour

func (v envValidator) workloads(w *Workloads) {
	rv := reflect.ValueOf(w).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name := yamlName(rt.Field(i))
		wl := rv.Field(i).Interface().(Workload)
		field := "workloads." + name
		if wl.Enabled != nil && !optionalWorkloads[name] {
			v.problem(field+".enabled", fmt.Sprintf("%s is not optional: remove enabled (only dashboards and pgadmin can be switched off)", name))
		}
		if why, single := singletons[name]; single && wl.Replicas > 1 {
			v.problem(field+".replicas", fmt.Sprintf("%d replicas: %s; write 1 (or 0 to stop it)", wl.Replicas, why))
		}
		v.autoscaling(name, field, wl)
		r := wl.Resources
		for _, c := range []struct {
			what     string
			req, lim Quantity
		}{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}} {
			if c.req.IsZero() {
				v.problem(field+".resources.requests."+c.what, "is required: every container declares its requests")
			}
			if c.lim.IsZero() {
				v.problem(field+".resources.limits."+c.what, "is required: every container declares its limits")
			}
			if !c.req.IsZero() && !c.lim.IsZero() && c.req.Cmp(c.lim.Quantity) > 0 {
				v.problem(field+".resources.requests."+c.what, fmt.Sprintf("request %s is above the limit %s: lower the request or raise the limit", c.req.String(), c.lim.String()))
			}
		}
		v.memoryFloor(field+".resources.limits.memory", r.Limits.Memory)
	}
}

// minMemoryLimit is the smallest memory limit a container runtime starts
// a container with (runc: "minimum memory limit allowed is 6MB"). Above
// it, every setting derived from a limit (Redis maxmemory, RabbitMQ's
// watermark) is more than zero, which both read as "unlimited".
var minMemoryLimit = resource.MustParse("6Mi")

func (v envValidator) memoryFloor(field string, q Quantity) {
	if !q.IsZero() && q.Cmp(minMemoryLimit) < 0 {
		v.problem(field, fmt.Sprintf("%s is below 6Mi, the least a container runtime starts a container with (and Redis and RabbitMQ would read the memory settings derived from it as unlimited): a unit mistake? e.g. 256Mi", q.String()))
	}
}

// autoscaling checks a workload's HorizontalPodAutoscaler settings.
func (v envValidator) autoscaling(name, field string, wl Workload) {
	a := wl.Autoscaling
	set := v.isSet(field + ".autoscaling")
	if !scalable[name] {
		if set {
			why := singletons[name]
			if why == "" {
				why = "it runs one instance"
			}
			v.problem(field+".autoscaling", fmt.Sprintf("%s cannot autoscale: %s; remove autoscaling (only webUI, webAPI, frontend and worker scale)", name, why))
		}
		return
	}
	if !a.Enabled {
		return
	}
	if v.isSet(field + ".replicas") {
		v.problem(field+".replicas", fmt.Sprintf("replicas and autoscaling.enabled are both set: the HorizontalPodAutoscaler owns the replica count (between minReplicas %d and maxReplicas %d); remove replicas", a.MinReplicas, a.MaxReplicas))
	}
	if a.MinReplicas < 2 {
		v.problem(field+".autoscaling.minReplicas", fmt.Sprintf("%d: an autoscaled workload runs at least 2 pods, so that a node can be drained without an outage; write 2 or more (or turn autoscaling off and set replicas)", a.MinReplicas))
	}
	if a.MaxReplicas <= a.MinReplicas {
		v.problem(field+".autoscaling.maxReplicas", fmt.Sprintf("%d is not above minReplicas %d: the autoscaler would have nothing to do; raise maxReplicas or turn autoscaling off and set replicas", a.MaxReplicas, a.MinReplicas))
	}
	if d, err := time.ParseDuration(string(a.ScaleDownStabilization)); err == nil && d > maxStabilization {
		v.problem(field+".autoscaling.scaleDownStabilization", fmt.Sprintf("%s is longer than the 1h the HorizontalPodAutoscaler API allows; write e.g. 5m", a.ScaleDownStabilization))
	} else if err == nil && d%time.Second != 0 {
		// The HorizontalPodAutoscaler takes stabilizationWindowSeconds, an
		// integer: 0.5s would become 0, no damping at all.
		whole := d.Truncate(time.Second)
		if whole == 0 {
			whole = time.Second
		}
		v.problem(field+".autoscaling.scaleDownStabilization", fmt.Sprintf("%s is not a whole number of seconds: the HorizontalPodAutoscaler counts its window in whole seconds (stabilizationWindowSeconds), so %s would be cut to %d; write e.g. %s",
			a.ScaleDownStabilization, a.ScaleDownStabilization, int64(d/time.Second), shortDuration(whole)))
	}
}

// shortDuration prints a duration the way one writes it: 5m, 1m30s, 1s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// isSet reports whether the description itself (the environment or
// defaults:) sets a field, as opposed to the Go defaults.
func (v envValidator) isSet(field string) bool {
	return nodeAt(v.env, field) != nil || nodeAt(v.defaults, field) != nil
}

// backup checks what the backup CronJobs need: exactly one target, and
// everything that target needs.
func (v envValidator) backup(b *Backup) {
	if b.Restore.Enabled != nil && *b.Restore.Enabled {
		switch {
		case !b.On():
			v.problem("backup.restore.enabled", "needs backup.enabled: true: the restore reads the backups at backup.target")
		case !b.DatabaseOn():
			v.problem("backup.restore.enabled", "needs backup.database: true: an environment is restored from its database dump (files and indices follow it)")
		}
	}
	if !b.On() {
		return
	}
	t := b.Target
	switch {
	case !t.IsS3() && !t.IsVolume():
		v.l.add(v.nearLine("backup.target"), v.path+".backup.target", "is required when backup.enabled is true: give exactly one of s3 (endpoint, bucket, prefix, egressCIDRs) or volume (storageClass, size)")
	case t.IsS3() && t.IsVolume():
		v.problem("backup.target", fmt.Sprintf("sets both s3 (line %d) and volume (line %d): keep exactly one; a target inherited from defaults: cannot be unset, so set targets in the environments", v.lineOf("backup.target.s3"), v.lineOf("backup.target.volume")))
	case t.IsS3():
		v.requiredNear("backup.target.s3.endpoint", t.S3.Endpoint != "", "give the object store's HTTPS URL, e.g. https://s3.example.org")
		v.requiredNear("backup.target.s3.bucket", t.S3.Bucket != "", "name the bucket, e.g. invenio-backups")
		v.requiredNear("backup.target.s3.egressCIDRs", len(t.S3.EgressCIDRs) > 0, "list the networks the object store answers from, e.g. [198.51.100.0/24]: the backup pods may reach nothing else outside")
		if t.S3.Endpoint != "" {
			v.httpsOn443("backup.target.s3.endpoint", string(t.S3.Endpoint), true,
				"restic's s3: repository is this address followed by the bucket and prefix, which are fields of their own")
		}
		if t.S3.Region != "" && !s3Region.MatchString(t.S3.Region) {
			v.problem("backup.target.s3.region", fmt.Sprintf("%q is not a region: use lower-case letters, digits and '-', e.g. us-east-1", t.S3.Region))
		}
	case t.IsVolume():
		v.requiredNear("backup.target.volume.storageClass", t.Volume.StorageClass != "", "name the StorageClass of the backup volume, e.g. nfs-backup")
		v.requiredNear("backup.target.volume.size", !t.Volume.Size.IsZero(), "size the backup volume, e.g. 200Gi")
	}
	r := b.Resources
	for _, c := range []struct {
		what     string
		req, lim Quantity
	}{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}} {
		if !c.req.IsZero() && !c.lim.IsZero() && c.req.Cmp(c.lim.Quantity) > 0 {
			v.problem("backup.resources.requests."+c.what, fmt.Sprintf("request %s is above the limit %s: lower the request or raise the limit", c.req.String(), c.lim.String()))
		}
	}
	v.memoryFloor("backup.resources.limits.memory", r.Limits.Memory)
}

// s3Region is an S3 region name: us-east-1, eu-central-1, garage.
var s3Region = regexp.MustCompile(`^[a-z0-9-]+$`)

// samlMetadataURL: the IdP metadata is fetched over HTTPS, through
// NetworkPolicies that open port 443 only; a path and a query are fine.
func (v envValidator) samlMetadataURL(raw string) {
	if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" {
		v.problem("auth.saml.metadataURL", fmt.Sprintf("%q is not an https:// URL: the IdP metadata must be fetched over HTTPS", raw))
		return
	}
	v.httpsOn443("auth.saml.metadataURL", raw, false, "")
}

// httpsOn443 checks an https:// URL that pods of the environment open
// through the NetworkPolicies the generator writes, which let them reach
// TCP 443 only (component.External{Port: 443} in invenio/backup.go and
// invenio/optional.go): no other port, and no credentials, which would
// be written to git in plain text. Where bare, the URL is an address only:
// no path but "/", no query, no fragment (why says what it is used for).
// A fragment is never sent to the server: it is refused everywhere.
func (v envValidator) httpsOn443(field, raw string, bare bool, why string) {
	u, err := url.Parse(raw)
	if err != nil {
		return // the caller says it is not an https:// URL
	}
	var wrong []string
	if u.User != nil {
		wrong = append(wrong, "credentials (user:password@), which would be written to git in plain text: put them in a sealed Secret")
	}
	if p := u.Port(); p != "" && p != "443" {
		wrong = append(wrong, fmt.Sprintf("port %s, but the NetworkPolicies let the pods open HTTPS on port 443 only, so it would never connect", p))
	}
	addressOnly := len(wrong)
	if bare && u.Path != "" && u.Path != "/" {
		wrong = append(wrong, fmt.Sprintf("a path (%s)", u.EscapedPath()))
	}
	if bare && (u.RawQuery != "" || u.ForceQuery) {
		wrong = append(wrong, "a query (?"+u.RawQuery+")")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		wrong = append(wrong, "a fragment (#"+u.EscapedFragment()+")")
	}
	if len(wrong) == 0 {
		return
	}
	clean := url.URL{Scheme: "https", Host: u.Hostname()}
	if strings.Contains(clean.Host, ":") {
		clean.Host = "[" + clean.Host + "]" // IPv6
	}
	if !bare {
		clean.Path, clean.RawPath, clean.RawQuery = u.Path, u.RawPath, u.RawQuery
	}
	msg := fmt.Sprintf("%q has %s", u.Redacted(), strings.Join(wrong, "; "))
	if why != "" && len(wrong) > addressOnly {
		msg += " (" + why + ")"
	}
	v.problem(field, msg+fmt.Sprintf("; write %q", clean.String()))
}

// maxText is the longest string value a description may hold. The longest
// real values are URLs and SAML attribute names (well under 200 bytes); a
// longer one is a paste accident, and unbounded it ends up in a ConfigMap
// the API server refuses (over 1 MiB) or in a label (over 63).
const maxText = 1024

// texts bounds every string value, once per line it is set on.
func (l *loader) texts(p *Platform) {
	seen := map[int]bool{}
	for _, f := range p.Fields() {
		if len(f.Value) <= maxText {
			continue
		}
		line, shown := p.locate(f.Path)
		if seen[line] {
			continue
		}
		seen[line] = true
		l.add(line, shown, fmt.Sprintf("is %d bytes long (%q…): at most %d bytes; shorten it", len(f.Value), strings.ToValidUTF8(f.Value[:20], ""), maxText))
	}
}

// CertManagerNamespace is where the infrastructure layer installs
// cert-manager (the chart's documented namespace).
const CertManagerNamespace = "cert-manager"

// EnvoyGatewayClass is the GatewayClass the infrastructure layer makes for
// the Envoy Gateway it installs.
const EnvoyGatewayClass = "eg"

// namespaceOwner says who already owns namespace of e ("" when nobody):
// Kubernetes' own namespaces, and those of the controllers and Prometheus
// the description names for e's cluster.
func namespaceOwner(p *Platform, e *Environment) string {
	ns := string(e.Namespace)
	switch ns {
	case "default", "kube-system", "kube-public", "kube-node-lease":
		return "a namespace of Kubernetes itself"
	case string(p.GitOps.Namespace):
		return "Flux's namespace (gitops.namespace)"
	case CertManagerNamespace:
		return "cert-manager's namespace"
	case string(e.Sealing.ControllerNamespace):
		return "the sealed-secrets controller's namespace (sealing.controllerNamespace)"
	case string(e.Ingress.ControllerNamespace):
		return "the ingress controller's namespace (ingress.controllerNamespace)"
	case string(e.Ingress.Gateway.DataPlaneNamespace):
		return "the Gateway API implementation's namespace (ingress.gateway.dataPlaneNamespace)"
	case OpenShiftRouterNamespace:
		return "the OpenShift routers' namespace"
	case string(e.Monitoring.PrometheusNamespace):
		return "Prometheus' namespace (monitoring.prometheusNamespace)"
	}
	return ""
}

// maxReleaseName is Helm's limit on a release name (and the HelmRelease
// CRD's maxLength of spec.releaseName).
const maxReleaseName = 53

// labelsString is a label map in a fixed order, for comparing.
func labelsString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

var quantityType = reflect.TypeOf(Quantity{})

// wholeBytes refuses a fractional number of bytes in every memory and
// storage quantity of an environment (every Quantity but CPU): the API
// server warns `fractional byte value "1500m" is invalid, must be an
// integer` (pkg/api/pod/warnings.go, GetWarningsForPersistentVolumeClaimSpec)
// and the programs that read the value round it.
func (v envValidator) wholeBytes(rv reflect.Value, path string) {
	switch rv.Kind() {
	case reflect.Struct:
		if rv.Type() == quantityType {
			q := rv.Interface().(Quantity)
			if !q.IsZero() && !strings.HasSuffix(path, ".cpu") && q.MilliValue()%1000 != 0 {
				v.problem(strings.TrimPrefix(path, "."), fmt.Sprintf("%s is %s bytes, not a whole number: the API server warns `fractional byte value` and every program rounds it its own way; write e.g. 512Mi or 1Gi", q.String(), q.AsDec().String()))
			}
			return
		}
		for i := 0; i < rv.NumField(); i++ {
			f := rv.Type().Field(i)
			if !f.IsExported() || yamlName(f) == "-" || yamlName(f) == "" {
				continue
			}
			v.wholeBytes(rv.Field(i), path+"."+yamlName(f))
		}
	case reflect.Pointer:
		if !rv.IsNil() {
			v.wholeBytes(rv.Elem(), path)
		}
	}
}

// labels checks a label map of the description as the API server checks
// labels and label selectors: keys qualified names, values label values.
// annotations checks annotation keys and the total size as the API
// server does, and refuses ingress-nginx's snippets, which the controller
// the generator installs rejects (allowSnippetAnnotations: false).
func (v envValidator) annotations(field string, m map[string]string) {
	size := 0
	for _, k := range slices.Sorted(maps.Keys(m)) {
		size += len(k) + len(m[k])
		if errs := validation.IsQualifiedName(strings.ToLower(k)); len(errs) > 0 {
			v.problem(field, fmt.Sprintf("the key %q is not an annotation key: %s", k, strings.Join(errs, "; ")))
		}
		if strings.HasPrefix(k, "nginx.ingress.kubernetes.io/") && strings.HasSuffix(k, "-snippet") {
			v.problem(field, fmt.Sprintf("%q: ingress-nginx snippets run arbitrary nginx configuration (CVE-2025-1974); the generated controller refuses them (allowSnippetAnnotations: false): remove it", k))
		}
	}
	if size > apivalidation.TotalAnnotationSizeLimitB {
		v.problem(field, fmt.Sprintf("%d bytes of annotations: the API server accepts at most %d (keys and values together); shorten them", size, apivalidation.TotalAnnotationSizeLimitB))
	}
}

func (v envValidator) labels(field string, m map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.problem(field, fmt.Sprintf("the key %q is not a label key: %s", k, strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
			v.problem(field+"."+k, fmt.Sprintf("%q is not a label value: %s", m[k], strings.Join(errs, "; ")))
		}
	}
}
