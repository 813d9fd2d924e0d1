package check

// Deviations are the deliberate deviations; each is documented in
// docs/manifest-checks.md.
var Deviations = []Deviation{
	// OpenShift's API server admits a Route with an external certificate
	// only when its router may read that Secret (exposure route): a Role
	// for that one Secret, get/list/watch, bound to the router.
	{Check: "rbac", Object: "Role/router-reads-invenio-tls", Contains: "an RBAC role",
		Why: "OpenShift's router must read the Route's certificate Secret (spec.tls.externalCertificate); the Role names that Secret only"},
	{Check: "rbac", Object: "RoleBinding/router-reads-invenio-tls", Contains: "binds Role/router-reads-invenio-tls",
		Why: "binds that Role to OpenShift's router service account (openshift-ingress/router) only"},
	{Check: "dangling-network-policy", Object: "NetworkPolicy/allow-acme-http01-solver",
		Why: "cert-manager starts the HTTP-01 solver pods it selects during a challenge; they are not in the build"},
	// cert-manager labels its HTTP-01 solver pods itself; the policy that
	// lets the ingress controller reach them can only select that label.
	{Check: "labels", Object: "NetworkPolicy/allow-acme-http01-solver", Contains: "acme.cert-manager.io/http01-solver",
		Why: "cert-manager's solver pods carry only cert-manager's own label"},
	// Polaris pullPolicyNotAlways: every image is pinned to a version tag,
	// so IfNotPresent does not make every pod start depend on the registry.
	{Check: "polaris/pullPolicyNotAlways", Object: "*", Contains: "IfNotPresent",
		Why: "version-pinned tags: IfNotPresent keeps pod starts independent of the registry"},
	// Polaris priorityClassNotSet: no PriorityClass exists on the cluster yet.
	{Check: "polaris/priorityClassNotSet", Object: "*",
		Why: "no PriorityClass is defined for the cluster yet (cluster-scoped: would belong to infrastructure:)"},
	// Polaris topologySpreadConstraint and missingPodDisruptionBudget: the
	// replicable workloads (web-ui, web-api, frontend, worker) always
	// spread, and get a PodDisruptionBudget when they run two pods or
	// more; singletons (one pod: a budget could only block drains or allow
	// everything) and single-replica dev workloads have neither.
	{Check: "polaris/topologySpreadConstraint", Object: "*",
		Why: "single-instance workloads (data services, beat, tools, exporters) have nothing to spread"},
	{Check: "polaris/missingPodDisruptionBudget", Object: "*",
		Why: "a PodDisruptionBudget only for workloads running two pods or more (docs/operations.md)"},
	// Polaris deploymentMissingReplicas: dev runs one of everything (it
	// must fit the seed's 12 CPU / 30 GB), beat must never run twice, and
	// pgAdmin/dashboards are single-user operator tools.
	{Check: "polaris/deploymentMissingReplicas", Object: "*", Contains: "replicas 1",
		Why: "single replicas are sized choices (dev budget, beat singleton, operator tools)"},
	// Polaris metadataAndInstanceMismatched: app.kubernetes.io/instance
	// names the installation (site.name), as the Kubernetes recommended
	// labels define it, not each object.
	{Check: "polaris/metadataAndInstanceMismatched", Object: "*",
		Why: "app.kubernetes.io/instance is the installation (site.name), per the recommended labels"},
	// kube-linter job-ttl-seconds-after-finished: Flux owns the Job; a TTL
	// would delete it and Flux would re-create it, re-running setup.
	{Check: "kube-linter/job-ttl-seconds-after-finished", Object: "Job/invenio-setup",
		Why: "Flux re-applies a Job deleted by its TTL, which would re-run setup on every reconcile"},
	{Check: "kube-linter/job-ttl-seconds-after-finished", Object: "Job/opensearch-snapshot-repository",
		Why: "Flux re-applies a Job deleted by its TTL, which would re-register the repository on every reconcile"},
	{Check: "kube-linter/job-ttl-seconds-after-finished", Object: "Job/restore",
		Why: "Flux re-applies a Job deleted by its TTL; the restore's report stays readable (kubectl logs job/restore -c report)"},
	// pgAdmin's python carries the NET_BIND_SERVICE file capability and
	// cannot start without it in the bounding set (pgadmin4 #5653). PSA
	// restricted allows exactly this one added capability.
	{Check: "capabilities", Object: "Deployment/pgadmin", Contains: "adds NET_BIND_SERVICE",
		Why: "pgAdmin image needs NET_BIND_SERVICE (pgadmin4 #5653); allowed by PSA restricted"},
	// Polaris missingNetworkPolicy asks for a policy with at least one
	// ingress and one egress rule. A component nobody calls has no ingress
	// rule, one that calls nothing no egress rule: with default-deny an
	// empty list denies everything, which is stricter than Polaris asks.
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/worker", Contains: "no ingress rule",
		Why: "nothing calls the worker: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/beat", Contains: "no ingress rule",
		Why: "nothing calls beat: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Job/invenio-setup", Contains: "no ingress rule",
		Why: "nothing calls the setup Job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/report-largest-files", Contains: "no ingress rule",
		Why: "nothing calls the report: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/dashboards", Contains: "no ingress rule",
		Why: "operators reach dashboards by port-forward only: pod ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/pgadmin", Contains: "no ingress rule",
		Why: "developers reach pgAdmin by port-forward only: pod ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-postgresql", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-files", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-opensearch", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Job/opensearch-snapshot-repository", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/restore-check", Contains: "no ingress rule",
		Why: "nothing calls the restore check: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Job/restore", Contains: "no ingress rule",
		Why: "nothing calls the restore Job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-files", Contains: "no egress rule",
		Why: "with a volume target the files backup reaches nothing but DNS: egress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/postgresql", Contains: "no egress rule",
		Why: "PostgreSQL calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/redis", Contains: "no egress rule",
		Why: "Redis calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/rabbitmq", Contains: "no egress rule",
		Why: "RabbitMQ calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/opensearch", Contains: "no egress rule",
		Why: "OpenSearch calls nothing: egress (beyond DNS) stays denied"},
}
