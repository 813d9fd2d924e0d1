// Package config owns the platform description: its Go types, the defaults,
// strict loading with file:line errors, validation and the field reference.
//
// A description is layered: the Go defaults (Defaults), then the optional
// top-level `defaults:` section, then each environment's own fields. A field
// an environment leaves out keeps the value of the layer below it.
package config

// Platform is a whole, validated platform description.
type Platform struct {
	// Site holds what is the same in every environment.
	Site Site `yaml:"site" doc:"What is the same in every environment."`
	// Defaults is the resolved `defaults:` section: the values base/ is built from.
	Defaults Environment `yaml:"defaults" doc:"Values every environment starts from (any field of an environment except name). base/ is rendered from these."`
	// Environments in the order the file lists them.
	Environments []Environment `yaml:"environments" doc:"The environments (dev, test, prod, …), each overriding defaults."`
	// GitOps is where Flux pulls this repository from.
	GitOps GitOps `yaml:"gitops" doc:"Where Flux pulls this repository from and how often it reconciles (clusters/<cluster>/)."`
	// Infrastructure is what Flux installs in every cluster before the platform.
	Infrastructure Infrastructure `yaml:"infrastructure" doc:"The cluster controllers the platform needs, installed by Flux in every cluster before the platform."`
	// Clusters holds what the description says of a cluster itself; a
	// cluster an environment names but this list leaves out is plain
	// Kubernetes.
	Clusters []Cluster `yaml:"clusters" doc:"What is known of each cluster the environments run in (environments[].cluster); a cluster not listed is plain Kubernetes."`

	// File is the path the description was read from (for messages).
	File string `yaml:"-"`
	// src is the parsed file, for Line (nil when not loaded from a file).
	src *source
}

// Site is what every environment shares.
type Site struct {
	Name      DNSLabel `yaml:"name" doc:"Instance name: the app.kubernetes.io/instance label of every object." example:"lbnl-data-repository"`
	PartOf    DNSLabel `yaml:"partOf" doc:"The app.kubernetes.io/part-of label." default:"inveniordm"`
	ManagedBy DNSLabel `yaml:"managedBy" doc:"The app.kubernetes.io/managed-by label." default:"invenio-gitops"`
}

// Distribution is the Kubernetes distribution a cluster runs.
type Distribution string

// The distributions: upstream Kubernetes (kubeadm, k3s, RKE2, Talos, …) and
// Red Hat OpenShift, whose router serves Routes (route.openshift.io/v1).
const (
	DistributionKubernetes Distribution = "kubernetes"
	DistributionOpenShift  Distribution = "openshift"
)

// Cluster is one cluster of the description.
type Cluster struct {
	Name         DNSLabel     `yaml:"name" doc:"The cluster, as environments[].cluster names it (clusters/<name>/)." example:"lab"`
	Distribution Distribution `yaml:"distribution" doc:"kubernetes or openshift. Only an OpenShift cluster has a router for ingress.exposure: route; its Routes take their certificate from a Secret (spec.tls.externalCertificate, feature gate RouteExternalCertificate, on by default in current OpenShift)." default:"kubernetes"`

	// Line is where the entry starts in the file (for messages).
	Line int `yaml:"-"`
}

// OpenShiftRouterNamespace is where OpenShift runs its routers; its
// service account router is the one OpenShift's API server and router
// check for read access to a Route's external certificate (OpenShift:
// "Creating a route with externally managed certificate"), so it is not
// a setting.
const OpenShiftRouterNamespace = "openshift-ingress"

// Cluster returns what the description says of the cluster named name:
// its entry under clusters, or plain Kubernetes (Line 0) when it has none.
func (p *Platform) Cluster(name DNSLabel) Cluster {
	for _, c := range p.Clusters {
		if c.Name == name {
			return c
		}
	}
	c := DefaultCluster()
	c.Name = name
	return c
}

// Environment is one deployment of the platform (dev, test, prod).
type Environment struct {
	Name      DNSLabel `yaml:"name" doc:"Environment name; also the overlay directory overlays/<name>." example:"prod"`
	Namespace DNSLabel `yaml:"namespace" doc:"Namespace everything of this environment lives in." example:"invenio-prod"`
	Host      DNSName  `yaml:"host" doc:"Public host name of the web UI (Ingress, allowed hosts, site URLs)." example:"invenio.lbl.gov"`
	Cluster   DNSLabel `yaml:"cluster" doc:"Cluster the environment runs in, i.e. clusters/<cluster>/ (default: the environment's name). Environments may share a cluster." example:"lab"`

	Image      Image      `yaml:"image" doc:"The custom InvenioRDM v12 application image (web, worker, beat, setup, static files)."`
	Images     Images     `yaml:"images" doc:"Upstream images of the supporting services, pinned by tag."`
	Auth       Auth       `yaml:"auth" doc:"How users log in."`
	Ingress    Ingress    `yaml:"ingress" doc:"How the web UI is exposed."`
	Storage    Storage    `yaml:"storage" doc:"Storage classes and volume sizes."`
	Database   Database   `yaml:"database" doc:"PostgreSQL database and role the application uses."`
	Search     Search     `yaml:"search" doc:"OpenSearch settings."`
	Workloads  Workloads  `yaml:"workloads" doc:"Replicas and resources of every workload."`
	Secrets    Secrets    `yaml:"secrets" doc:"Names of the Secrets each part reads (the values arrive sealed)."`
	App        App        `yaml:"app" doc:"InvenioRDM application settings."`
	Sealing    Sealing    `yaml:"sealing" doc:"The sealed-secrets controller of the environment's cluster, and how each Secret is sealed."`
	Monitoring Monitoring `yaml:"monitoring" doc:"Prometheus monitoring: exporters, ServiceMonitors and alerts (needs the Prometheus Operator in the cluster)."`
	Reports    Reports    `yaml:"reports" doc:"Scheduled reports for operators."`
	Backup     Backup     `yaml:"backup" doc:"Daily backups of the database, the uploaded files and the OpenSearch indices to a target outside the cluster, with retention and a monthly restore check (docs/backup.md)."`

	// Line is where the environment starts in the file (for messages).
	Line int `yaml:"-"`
}

// Image is a container image reference split into repository and tag.
type Image struct {
	Repository ImageRepository `yaml:"repository" doc:"Image repository, without tag." example:"ghcr.io/lbnl/lbnl-data-repository"`
	Tag        ImageTag        `yaml:"tag" doc:"Image tag; never latest." example:"v12.1.0-lbnl.1"`
}

// Ref is repository:tag.
func (i Image) Ref() string { return string(i.Repository) + ":" + string(i.Tag) }

// Images pins every upstream image the platform runs.
type Images struct {
	PostgreSQL Image `yaml:"postgresql" doc:"PostgreSQL server (official image)."`
	Redis      Image `yaml:"redis" doc:"Redis (official image)."`
	RabbitMQ   Image `yaml:"rabbitmq" doc:"RabbitMQ with the management plugin (official image)."`
	OpenSearch Image `yaml:"opensearch" doc:"OpenSearch (official image)."`
	Dashboards Image `yaml:"dashboards" doc:"OpenSearch Dashboards (official image)."`
	Nginx      Image `yaml:"nginx" doc:"nginx, unprivileged build (listens on 8080 as uid 101)."`
	PgAdmin    Image `yaml:"pgadmin" doc:"pgAdmin 4."`
	// Exporters, run only when monitoring is enabled.
	PostgresExporter Image `yaml:"postgresExporter" doc:"Prometheus PostgreSQL exporter (prometheus-community)."`
	RedisExporter    Image `yaml:"redisExporter" doc:"Prometheus Redis exporter (oliver006)."`
	NginxExporter    Image `yaml:"nginxExporter" doc:"NGINX Prometheus exporter, a sidecar of the frontend reading stub_status on loopback."`
	Restic           Image `yaml:"restic" doc:"restic (official image): encrypted, deduplicated backups, their retention and restores."`
}

// AuthMode is how users log in.
type AuthMode string

// The supported login modes.
const (
	AuthPassword AuthMode = "password"
	AuthSAML     AuthMode = "saml"
)

// Auth selects local password login or SAML2 single sign-on.
type Auth struct {
	Mode AuthMode `yaml:"mode" doc:"password (local accounts) or saml (SAML2 SSO through invenio-saml)." default:"password"`
	SAML SAML     `yaml:"saml" doc:"SAML2 identity provider; required when mode is saml."`
}

// SAML describes the identity provider invenio-saml talks to.
type SAML struct {
	IdP         DNSLabel `yaml:"idp" doc:"Short id of the identity provider; part of the /saml/*/<idp> routes." example:"lbl"`
	Title       string   `yaml:"title" doc:"Text of the login button." example:"Berkeley Lab SSO"`
	MetadataURL string   `yaml:"metadataURL" doc:"HTTPS URL of the IdP's SAML metadata." example:"https://login.lbl.gov/idp/shibboleth"`
	EntityID    string   `yaml:"entityID" doc:"Entity id of our service provider (default https://<host>/saml/metadata/<idp>)."`
	EgressCIDRs []CIDR   `yaml:"egressCIDRs" doc:"Where the IdP lives: web pods may open HTTPS (443) to these ranges only." example:"[198.128.0.0/16]"`
	// Attribute names in the IdP's assertions.
	EmailAttribute      string `yaml:"emailAttribute" doc:"Assertion attribute holding the e-mail address." default:"urn:oid:0.9.2342.19200300.100.1.3"`
	NameAttribute       string `yaml:"nameAttribute" doc:"Assertion attribute holding the given name." default:"urn:oid:2.5.4.42"`
	SurnameAttribute    string `yaml:"surnameAttribute" doc:"Assertion attribute holding the surname." default:"urn:oid:2.5.4.4"`
	ExternalIDAttribute string `yaml:"externalIDAttribute" doc:"Assertion attribute holding the stable user id." default:"urn:oid:1.3.6.1.4.1.5923.1.1.1.6"`
}

// Exposure is how the web UI is reached from outside the cluster.
type Exposure string

// The exposures: Gateway API (a Gateway and HTTPRoutes), an Ingress, both
// side by side while an environment migrates from one to the other, or an
// OpenShift Route.
const (
	ExposureGateway Exposure = "gateway"
	ExposureIngress Exposure = "ingress"
	ExposureBoth    Exposure = "both"
	ExposureRoute   Exposure = "route"
)

// Ingress reports whether the environment has an Ingress.
func (x Exposure) Ingress() bool { return x == ExposureIngress || x == ExposureBoth }

// Gateway reports whether the environment has a Gateway.
func (x Exposure) Gateway() bool { return x == ExposureGateway || x == ExposureBoth }

// Route reports whether the environment has an OpenShift Route.
func (x Exposure) Route() bool { return x == ExposureRoute }

// Ingress describes how traffic from outside reaches the frontend: the
// exposure, the controller or Gateway API implementation in front, and the
// limits every hop on the way shares.
type Ingress struct {
	Exposure            Exposure          `yaml:"exposure" doc:"gateway (Gateway API: a Gateway with an HTTPS listener for host and an HTTP listener that redirects, and an HTTPRoute to the frontend, served by the implementation in gateway.*), ingress (an Ingress for the controller in className and controller*; ingress-nginx, retired upstream in March 2026, is what the generator installs for it), both (the two side by side, for a migration without downtime) or route (an OpenShift Route with edge TLS that redirects HTTP, served by the cluster's router; only on a cluster described with distribution: openshift). docs/exposure.md." default:"gateway"`
	Gateway             Gateway           `yaml:"gateway" doc:"The Gateway API implementation, with exposure: gateway."`
	Route               Route             `yaml:"route" doc:"The OpenShift router, with exposure: route."`
	ClassName           DNSLabel          `yaml:"className" doc:"IngressClass of the controller." default:"nginx"`
	Annotations         map[string]string `yaml:"annotations" doc:"Annotations of the Ingress (exposure ingress or both) for the controller of className, over those the generator writes for ingress-nginx (body size, request buffering, timeouts, HTTPS redirect, cert-manager's issuer): a key set here replaces the generated value. ingress-nginx's *-snippet annotations are refused (the generated controller forbids them)."`
	ClusterIssuer       DNSName           `yaml:"clusterIssuer" doc:"cert-manager ClusterIssuer that signs the TLS certificate." default:"letsencrypt-prod"`
	ControllerNamespace DNSLabel          `yaml:"controllerNamespace" doc:"Namespace the ingress controller pods run in (the only source allowed to reach the frontend)." default:"ingress-nginx"`
	ControllerLabels    map[string]string `yaml:"controllerLabels" doc:"Labels of the ingress controller pods." default:"{app.kubernetes.io/component: controller, app.kubernetes.io/name: ingress-nginx}"`
	MaxUploadSize       Quantity          `yaml:"maxUploadSize" doc:"Largest file an upload may carry, at least 1Mi. One value decides every hop: the Ingress (proxy-body-size), the frontend's file routes (client_max_body_size) and InvenioRDM (FILES_REST_DEFAULT_MAX_FILE_SIZE; the quota of a record's files, FILES_REST_DEFAULT_QUOTA_SIZE and the deposit form's, is the larger of this and InvenioRDM's 10 GB)." default:"50Gi"`
	IdleTimeout         Timeout           `yaml:"idleTimeout" doc:"How long any hop (the edge — ingress controller, Gateway proxy or OpenShift router —, nginx frontend, uWSGI) waits with no byte moving before it gives up on a request or response. No hop limits how long a whole transfer takes, only this silence. Whole seconds from 1s to 1h, e.g. 180s or 3m." default:"180s"`
}

// Gateway is the Gateway API implementation an environment's Gateway is
// served by. Its defaults are Envoy Gateway's, which the infrastructure
// layer installs (infrastructure.charts.envoyGateway).
type Gateway struct {
	ClassName          DNSLabel          `yaml:"className" doc:"GatewayClass of the Gateway. The generator makes the class eg for the Envoy Gateway it installs." default:"eg"`
	DataPlaneNamespace DNSLabel          `yaml:"dataPlaneNamespace" doc:"Namespace the implementation's proxy pods run in (the only source allowed to reach the frontend). Envoy Gateway runs them in its own namespace." default:"envoy-gateway-system"`
	DataPlaneLabels    map[string]string `yaml:"dataPlaneLabels" doc:"Labels of the proxy pods (empty admits every pod of dataPlaneNamespace). With the Envoy Gateway the generator installs (className eg), the NetworkPolicies also require the labels Envoy Gateway gives the proxies of this environment's Gateway (gateway.envoyproxy.io/owning-gateway-namespace and -name), so another environment's Gateway cannot reach this frontend." default:"{app.kubernetes.io/component: proxy, app.kubernetes.io/name: envoy}"`
}

// Route is the OpenShift router that serves an environment's Route. Its
// defaults are those of OpenShift 4's default IngressController (OpenShift
// docs: "About network policy", allow-from-router).
type Route struct {
	RouterNamespaceLabels map[string]string `yaml:"routerNamespaceLabels" doc:"Labels of the namespace the router's traffic comes from (the only source allowed to reach the frontend). OpenShift gives them to the host-network namespace the default router's traffic appears to come from." default:"{policy-group.network.openshift.io/ingress: \"\"}"`
}

// Storage sets storage classes and sizes. RWO and RWX come from different
// classes on Proxmox (Ceph RBD or the Proxmox CSI driver vs CephFS or NFS).
type Storage struct {
	ReadWriteOnceClass DNSName  `yaml:"readWriteOnceClass" doc:"StorageClass for single-writer volumes (PostgreSQL, OpenSearch, RabbitMQ, Redis)." default:"ceph-rbd"`
	ReadWriteManyClass DNSName  `yaml:"readWriteManyClass" doc:"StorageClass for the shared uploaded-files volume." default:"cephfs"`
	Files              Quantity `yaml:"files" doc:"Uploaded files (ReadWriteMany, expandable)." default:"100Gi"`
	PostgreSQL         Quantity `yaml:"postgresql" doc:"PostgreSQL data (ReadWriteOnce)." default:"20Gi"`
	OpenSearch         Quantity `yaml:"opensearch" doc:"OpenSearch indices (ReadWriteOnce)." default:"30Gi"`
	RabbitMQ           Quantity `yaml:"rabbitmq" doc:"RabbitMQ queues (ReadWriteOnce)." default:"2Gi"`
	Redis              Quantity `yaml:"redis" doc:"Redis append-only file (ReadWriteOnce)." default:"1Gi"`
	PgAdmin            Quantity `yaml:"pgadmin" doc:"pgAdmin settings (ReadWriteOnce)." default:"1Gi"`
}

// Database names the application's database and role.
type Database struct {
	Name DNSLabel `yaml:"name" doc:"Database name." default:"invenio"`
	User DNSLabel `yaml:"user" doc:"Role the application connects as (owner of the database)." default:"invenio"`
}

// Search holds OpenSearch settings.
type Search struct {
	IndexPrefix DNSLabel `yaml:"indexPrefix" doc:"Prefix of every index (SEARCH_INDEX_PREFIX, a dash is appended)." example:"lbnl-prod"`
	HeapSize    Quantity `yaml:"heapSize" doc:"JVM heap; keep at most half of the OpenSearch memory limit." default:"1Gi"`
}

// App holds InvenioRDM settings that are not secrets.
type App struct {
	SiteName          string   `yaml:"siteName" doc:"THEME_SITENAME shown in the UI." default:"InvenioRDM"`
	ProxyCount        Replicas `yaml:"proxyCount" doc:"Number of proxies in front of uWSGI (WSGI_PROXIES): the edge (ingress controller, Gateway proxy or OpenShift router) + nginx frontend." default:"2"`
	UWSGIProcesses    Replicas `yaml:"uwsgiProcesses" doc:"uWSGI processes per web pod." default:"2"`
	UWSGIThreads      Replicas `yaml:"uwsgiThreads" doc:"uWSGI threads per process." default:"4"`
	WorkerConcurrency Replicas `yaml:"workerConcurrency" doc:"Celery worker processes per pod." default:"2"`
	LogLevel          LogLevel `yaml:"logLevel" doc:"Log level of the application and Celery (DEBUG, INFO, WARNING, ERROR)." default:"INFO"`
}

// Workloads sizes every workload.
type Workloads struct {
	WebUI      Workload `yaml:"webUI" doc:"uWSGI serving the web UI."`
	WebAPI     Workload `yaml:"webAPI" doc:"uWSGI serving the REST API under /api."`
	Frontend   Workload `yaml:"frontend" doc:"nginx: static assets, proxying to webUI/webAPI."`
	Worker     Workload `yaml:"worker" doc:"Celery worker."`
	Beat       Workload `yaml:"beat" doc:"Celery beat: 1 replica (0 stops it); never more, or periodic tasks run twice."`
	Setup      Workload `yaml:"setup" doc:"The setup/upgrade Job: its resources (replicas is at most 1)."`
	PostgreSQL Workload `yaml:"postgresql" doc:"PostgreSQL (one replica; replication is out of scope)."`
	Redis      Workload `yaml:"redis" doc:"Redis cache, sessions, Celery results."`
	RabbitMQ   Workload `yaml:"rabbitmq" doc:"RabbitMQ broker."`
	OpenSearch Workload `yaml:"opensearch" doc:"OpenSearch (single node)."`
	Dashboards Workload `yaml:"dashboards" doc:"OpenSearch Dashboards (optional)."`
	PgAdmin    Workload `yaml:"pgadmin" doc:"pgAdmin (optional; meant for dev)."`
}

// Workload is one workload's size, and whether an optional one runs.
type Workload struct {
	Enabled     *bool       `yaml:"enabled" doc:"Only for dashboards and pgadmin: run it in this environment."`
	Replicas    Replicas    `yaml:"replicas" doc:"Pod replicas (0 to 100). Leave it out when autoscaling is enabled: the HorizontalPodAutoscaler owns the count."`
	Resources   Resources   `yaml:"resources" doc:"CPU and memory requests and limits."`
	Autoscaling Autoscaling `yaml:"autoscaling" doc:"Only for webUI, webAPI, frontend and worker: a HorizontalPodAutoscaler (autoscaling/v2) instead of a fixed replica count."`
}

// Autoscaling is a HorizontalPodAutoscaler's range and targets.
type Autoscaling struct {
	Enabled                bool     `yaml:"enabled" doc:"Scale the workload between minReplicas and maxReplicas on CPU and memory use." default:"false"`
	MinReplicas            Replicas `yaml:"minReplicas" doc:"Fewest pods (at least 2, so a PodDisruptionBudget can let a node drain without an outage)." default:"2"`
	MaxReplicas            Replicas `yaml:"maxReplicas" doc:"Most pods (more than minReplicas)." default:"4"`
	CPU                    Percent  `yaml:"cpu" doc:"Target average CPU use, in percent of the CPU request." default:"70"`
	Memory                 Percent  `yaml:"memory" doc:"Target average memory use, in percent of the memory request." default:"80"`
	ScaleDownStabilization Duration `yaml:"scaleDownStabilization" doc:"How long load must stay low before pods are removed (at most 1h), so uWSGI pods are not flapped." default:"5m"`
}

// Replicated is the fewest pods a workload runs while healthy, which its
// disruption budget and spreading follow: the HPA's minimum when it
// autoscales, else its replica count.
func (w Workload) Replicated() int32 {
	if w.Autoscaling.Enabled {
		return int32(w.Autoscaling.MinReplicas)
	}
	return int32(w.Replicas)
}

// On reports whether an optional workload is enabled.
func (w Workload) On() bool { return w.Enabled != nil && *w.Enabled }

// Resources are a container's requests and limits.
type Resources struct {
	Requests CPUMemory `yaml:"requests" doc:"What the scheduler reserves."`
	Limits   CPUMemory `yaml:"limits" doc:"The most the container may use."`
}

// CPUMemory is a CPU and a memory quantity.
type CPUMemory struct {
	CPU    Quantity `yaml:"cpu" doc:"CPU, e.g. 500m or 2."`
	Memory Quantity `yaml:"memory" doc:"Memory, e.g. 512Mi or 4Gi."`
}

// Secrets names the Secrets each part reads. Keys are fixed by the
// component that reads them (see docs/secrets.md).
type Secrets struct {
	App        DNSName `yaml:"app" doc:"INVENIO_SECRET_KEY and the security salts." default:"invenio-app"`
	PostgreSQL DNSName `yaml:"postgresql" doc:"Password of the database role." default:"invenio-postgresql"`
	RabbitMQ   DNSName `yaml:"rabbitmq" doc:"Password of the RabbitMQ user." default:"invenio-rabbitmq"`
	Redis      DNSName `yaml:"redis" doc:"Redis password." default:"invenio-redis"`
	PgAdmin    DNSName `yaml:"pgadmin" doc:"pgAdmin login password." default:"invenio-pgadmin"`
	SAML       DNSName `yaml:"saml" doc:"SAML service-provider key and certificate." default:"invenio-saml"`
	Backup     DNSName `yaml:"backup" doc:"The backup repository's encryption password and, for an S3 target, the access key." default:"invenio-backup"`
}

// Names is every Secret name s lists, in field order.
func (s Secrets) Names() []string {
	return []string{string(s.App), string(s.PostgreSQL), string(s.RabbitMQ), string(s.Redis), string(s.PgAdmin), string(s.SAML), string(s.Backup)}
}

// Sealing says which sealed-secrets controller holds the environment's
// sealing key and how each Secret is bound to its name and namespace.
type Sealing struct {
	ControllerName      DNSLabel                `yaml:"controllerName" doc:"Name of the sealed-secrets controller (its Service), as kubeseal --controller-name." default:"sealed-secrets-controller"`
	ControllerNamespace DNSLabel                `yaml:"controllerNamespace" doc:"Namespace of the sealed-secrets controller, as kubeseal --controller-namespace." default:"kube-system"`
	Scopes              map[string]SealingScope `yaml:"scopes" doc:"Scope per Secret name: strict (name and namespace bound, the default), namespace-wide or cluster-wide, as kubeseal --scope." example:"{invenio-saml: namespace-wide}"`
}

// SealingScope is how a SealedSecret is bound (kubeseal --scope).
type SealingScope string

// The sealing scopes, spelt as kubeseal spells them.
const (
	ScopeStrict        SealingScope = "strict"
	ScopeNamespaceWide SealingScope = "namespace-wide"
	ScopeClusterWide   SealingScope = "cluster-wide"
)

// ScopeOf is the scope a Secret is sealed with.
func (s Sealing) ScopeOf(secret string) SealingScope {
	if sc, ok := s.Scopes[secret]; ok {
		return sc
	}
	return ScopeStrict
}

// Monitoring is the environment's connection to a Prometheus run by the
// Prometheus Operator (kube-prometheus-stack or similar).
type Monitoring struct {
	Enabled             bool              `yaml:"enabled" doc:"Run the exporters and emit ServiceMonitors and a PrometheusRule." default:"false"`
	PrometheusNamespace DNSLabel          `yaml:"prometheusNamespace" doc:"Namespace Prometheus runs in (the NetworkPolicies let its pods scrape the exporters)." default:"monitoring"`
	PrometheusLabels    map[string]string `yaml:"prometheusLabels" doc:"Labels of the Prometheus pods." default:"{app.kubernetes.io/name: prometheus}"`
	SelectorLabels      map[string]string `yaml:"selectorLabels" doc:"Labels put on the ServiceMonitors and the PrometheusRule so that Prometheus selects them (kube-prometheus-stack: release: <its release name>)." default:"{release: kube-prometheus-stack}"`
	Interval            Duration          `yaml:"interval" doc:"Scrape interval." default:"30s"`
}

// Reports are scheduled reports for operators.
type Reports struct {
	LargestFiles LargestFiles `yaml:"largestFiles" doc:"The largest uploaded files, overall and per community (docs/operations.md)."`
}

// LargestFiles is the largest-files report: a CronJob that queries the
// database and writes the report to its log.
type LargestFiles struct {
	Enabled  bool     `yaml:"enabled" doc:"Run the report on schedule." default:"false"`
	Schedule Cron     `yaml:"schedule" doc:"When to run it (cron as a CronJob takes it: five fields or a descriptor such as @daily; UTC)." default:"17 3 * * *"`
	Top      Replicas `yaml:"top" doc:"How many files to list overall and per community (1 to 100)." default:"20"`
}

// GitOps says where Flux pulls this repository from and how it reconciles.
type GitOps struct {
	URL            GitURL   `yaml:"url" doc:"URL of this repository as Flux clones it (ssh:// or https://)." example:"ssh://git@github.com/lbnl/lbnl-data-repository-gitops.git"`
	Branch         GitRef   `yaml:"branch" doc:"Branch Flux follows." default:"main"`
	SecretRef      DNSName  `yaml:"secretRef" doc:"Secret in the Flux namespace with the clone credentials (the deploy key that flux bootstrap creates)." default:"flux-system"`
	Namespace      DNSLabel `yaml:"namespace" doc:"Namespace Flux runs in." default:"flux-system"`
	SourceInterval Duration `yaml:"sourceInterval" doc:"How often Flux fetches the branch." default:"1m"`
	Interval       Duration `yaml:"interval" doc:"How often each layer is re-applied (drift correction)." default:"10m"`
	RetryInterval  Duration `yaml:"retryInterval" doc:"How soon a failed layer is retried." default:"2m"`
	Timeout        Duration `yaml:"timeout" doc:"How long a layer may take to become Ready (the app layer includes the setup Job)." default:"15m"`
}

// Infrastructure lists the controllers Flux installs in every cluster.
type Infrastructure struct {
	ACME          ACME  `yaml:"acme" doc:"ACME account and the ClusterIssuers cert-manager gets."`
	CertManager   Chart `yaml:"certManager" doc:"cert-manager Helm chart (jetstack)."`
	IngressNginx  Chart `yaml:"ingressNginx" doc:"ingress-nginx Helm chart (kubernetes.github.io/ingress-nginx), installed in every cluster while an environment of the description has ingress.exposure ingress or both (the clusters share base/infrastructure)."`
	EnvoyGateway  Chart `yaml:"envoyGateway" doc:"Envoy Gateway's Helm charts gateway-crds-helm (the standard-channel Gateway API CRDs and Envoy Gateway's) and gateway-helm (oci://docker.io/envoyproxy), installed with the GatewayClass eg in every cluster while an environment of the description has ingress.exposure gateway or both (the clusters share base/infrastructure). With install: false the cluster provides the implementation and its GatewayClass; the generator writes neither."`
	SealedSecrets Chart `yaml:"sealedSecrets" doc:"sealed-secrets Helm chart (bitnami-labs.github.io/sealed-secrets); installed under each cluster's sealing controller name and namespace."`
}

// ACME is the certificate authority account and its issuers.
type ACME struct {
	Email   Email               `yaml:"email" doc:"Contact address of the ACME account (expiry notices)." example:"ops@lbl.gov"`
	Servers map[string]HTTPSURL `yaml:"servers" doc:"ClusterIssuer name → ACME directory URL; every environment's ingress.clusterIssuer must be one of them." default:"{letsencrypt-prod: https://acme-v02.api.letsencrypt.org/directory, letsencrypt-staging: https://acme-staging-v02.api.letsencrypt.org/directory}"`
}

// Chart is an infrastructure Helm chart: whether Flux installs it, and
// which version.
type Chart struct {
	Install *bool        `yaml:"install" doc:"Install it with Flux; false when the cluster already runs it (the platform still expects it)." default:"true"`
	Version ChartVersion `yaml:"version" doc:"Chart version, pinned."`
}

// On reports whether the chart is installed.
func (c Chart) On() bool { return c.Install == nil || *c.Install }

// Backup is what the backup CronJobs do in one environment.
type Backup struct {
	Enabled      *bool        `yaml:"enabled" doc:"Run the backups in this environment." default:"false"`
	Schedule     Cron         `yaml:"schedule" doc:"When the daily backups start (cron as a CronJob takes it: five fields or a descriptor such as @daily; UTC)." default:"0 2 * * *"`
	KeepDaily    Count        `yaml:"keepDaily" doc:"Daily backups kept of each kind (database, files, indices); older ones are deleted after a successful backup, never after a failed one." default:"30"`
	Target       BackupTarget `yaml:"target" doc:"Where the backups go: exactly one of s3 or volume."`
	Database     *bool        `yaml:"database" doc:"Dump the PostgreSQL database (pg_dump, custom format, with a manifest)." default:"true"`
	Files        *bool        `yaml:"files" doc:"Back up the uploaded-files volume (incremental)." default:"true"`
	OpenSearch   *bool        `yaml:"opensearch" doc:"Snapshot every OpenSearch index (the statistics indices exist nowhere else)." default:"true"`
	RestoreCheck RestoreCheck `yaml:"restoreCheck" doc:"The automated restore test."`
	Restore      Restore      `yaml:"restore" doc:"Restore this environment from the backups at its target when its database is empty (a new environment, or one rebuilt after a loss), before InvenioRDM is installed (docs/backup.md#restore-into-a-new-environment)."`
	Resources    Resources    `yaml:"resources" doc:"CPU and memory of each backup container."`
}

// On reports whether backups run.
func (b Backup) On() bool { return b.Enabled != nil && *b.Enabled }

// DatabaseOn reports whether the database is dumped.
func (b Backup) DatabaseOn() bool { return b.On() && (b.Database == nil || *b.Database) }

// FilesOn reports whether the uploaded files are backed up.
func (b Backup) FilesOn() bool { return b.On() && (b.Files == nil || *b.Files) }

// OpenSearchOn reports whether OpenSearch is snapshotted.
func (b Backup) OpenSearchOn() bool { return b.On() && (b.OpenSearch == nil || *b.OpenSearch) }

// RestoreCheckOn reports whether the restore check runs.
func (b Backup) RestoreCheckOn() bool {
	return b.On() && (b.RestoreCheck.Enabled == nil || *b.RestoreCheck.Enabled)
}

// RestoreOn reports whether an empty environment is restored from its
// backups instead of installed.
func (b Backup) RestoreOn() bool { return b.On() && b.Restore.Enabled != nil && *b.Restore.Enabled }

// BackupTarget is an S3-compatible bucket or a volume: exactly one is
// set. (Targets belong in the environments: one inherited from defaults:
// cannot be unset.)
type BackupTarget struct {
	S3     S3Target     `yaml:"s3" doc:"An S3-compatible bucket (AWS, Ceph RGW, MinIO); the access key comes from the backup Secret."`
	Volume VolumeTarget `yaml:"volume" doc:"A volume from a StorageClass, e.g. one of the NFS CSI driver pointing at a NAS outside the cluster."`
}

// IsS3 reports an S3 target (any of its own fields set).
func (t BackupTarget) IsS3() bool {
	return t.S3.Endpoint != "" || t.S3.Bucket != "" || t.S3.Prefix != "" || len(t.S3.EgressCIDRs) > 0
}

// IsVolume reports a volume target.
func (t BackupTarget) IsVolume() bool { return t.Volume.StorageClass != "" || !t.Volume.Size.IsZero() }

// S3Target is a bucket of an S3-compatible object store.
type S3Target struct {
	Endpoint    HTTPSURL   `yaml:"endpoint" doc:"HTTPS URL of the object store." example:"https://s3.lbl.gov"`
	Bucket      BucketName `yaml:"bucket" doc:"Bucket name (S3 naming rules)." example:"invenio-backups"`
	Prefix      S3Prefix   `yaml:"prefix" doc:"Path inside the bucket; each kind of backup is a restic repository below it." example:"prod"`
	Region      string     `yaml:"region" doc:"Region of the bucket (most S3-compatible stores ignore it)." default:"us-east-1"`
	EgressCIDRs []CIDR     `yaml:"egressCIDRs" doc:"Where the object store answers: the backup pods may open HTTPS (443) to these ranges only." example:"[128.3.0.0/16]"`
}

// VolumeTarget is a PersistentVolumeClaim the generator creates.
type VolumeTarget struct {
	StorageClass DNSName  `yaml:"storageClass" doc:"StorageClass of the backup volume (ReadWriteMany: every backup pod mounts it); point it outside the cluster, e.g. the NFS CSI driver's class for a NAS export." example:"nfs-backup"`
	Size         Quantity `yaml:"size" doc:"Size of the backup volume." example:"200Gi"`
}

// Restore restores an empty environment from its backups: the latest
// database dump, uploaded files and OpenSearch snapshot at backup.target
// (invenio/restore.go). An environment whose database holds anything is
// never touched.
type Restore struct {
	Enabled *bool `yaml:"enabled" doc:"Restore the latest backups into this environment while its database is empty; the setup Job then upgrades the restored instance instead of installing a new one. Needs backup.enabled and backup.database, and the restic password of the backups (backup Secret)." default:"false"`
}

// RestoreCheck is the monthly restore test.
type RestoreCheck struct {
	Enabled     *bool    `yaml:"enabled" doc:"Run the restore check." default:"true"`
	Schedule    Cron     `yaml:"schedule" doc:"When it runs (cron, UTC): after the daily backup, once a month." default:"0 4 1 * *"`
	SampleFiles Replicas `yaml:"sampleFiles" doc:"Uploaded files whose checksum is verified against the restored database (0 to 100)." default:"20"`
}
