package invenio

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"lbl.gov/invenio-gitops/generator/component"
)

// Secret keys the data services read. The key is fixed by the component
// that reads it; the Secret's name comes from the description.
const (
	PasswordKey = "password"
)

// namespace is the Namespace itself, labelled for Pod Security Admission.
// Its namespace-wide NetworkPolicies are derived in package network.
func (x env) namespace() *component.Component {
	c := &component.Component{Name: Namespace, Role: "namespace", Layer: component.LayerNamespace}
	ns := &corev1.Namespace{
		TypeMeta:   x.typeMeta("Namespace"),
		ObjectMeta: metav1.ObjectMeta{Name: string(x.e.Namespace), Labels: x.meta.Labels(c)},
	}
	keepWhenPruned(&ns.ObjectMeta)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		ns.Labels["pod-security.kubernetes.io/"+mode] = "restricted"
		ns.Labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	c.Objects = []component.Object{ns}
	return c
}

var (
	fastStart = component.Timing{Period: 10, Timeout: 5, Failures: 30} // up to 5 minutes to start
	liveness  = component.Timing{Period: 20, Timeout: 5, Failures: 6}  // 2 minutes of failure before a restart
	readiness = component.Timing{Period: 10, Timeout: 5, Failures: 3}
	slowStart = component.Timing{Period: 10, Timeout: 10, Failures: 60} // up to 10 minutes (OpenSearch, migrations)
)

// postgresql is the database: postgres:14.13 on a ReadWriteOnce volume.
// (Seed 000 asks for ReadWriteMany: see docs/decisions.md for why not.)
func (x env) postgresql() *component.Component {
	w := x.e.Workloads.PostgreSQL
	c := &component.Component{Name: PostgreSQL, Role: "database", Layer: component.LayerData, HasPods: true,
		Version: string(x.e.Images.PostgreSQL.Tag),
		Serves:  []component.Port{{Name: "postgresql", Port: 5432}}}
	db := x.e.Database
	ready := []string{"pg_isready", "--host=127.0.0.1", "--port=5432", "--username=" + string(db.User), "--dbname=" + string(db.Name)}
	ctr := component.Container("postgresql", x.e.Images.PostgreSQL.Ref(), w.Resources)
	ctr.Ports = component.Ports(c)
	ctr.Env = []corev1.EnvVar{
		component.Env("POSTGRES_USER", string(db.User)),
		component.Env("POSTGRES_DB", string(db.Name)),
		component.SecretEnv("POSTGRES_PASSWORD", string(x.e.Secrets.PostgreSQL), PasswordKey),
		// A sub-directory, so initdb does not trip over lost+found on a fresh volume.
		component.Env("PGDATA", "/var/lib/postgresql/data/pgdata"),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.Mount("data", "/var/lib/postgresql/data"),
		component.Mount("run", "/var/run/postgresql"),
		component.Mount("tmp", "/tmp"),
		component.Mount("shm", "/dev/shm"),
	}
	ctr.StartupProbe = component.ExecProbe(fastStart, ready...)
	ctr.LivenessProbe = component.ExecProbe(liveness, ready...)
	ctr.ReadinessProbe = component.ExecProbe(readiness, ready...)
	ctr.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", postgresApplyPassword}}}}
	shm := corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("256Mi"))}}}
	spec := component.PodSpec(c, component.User{UID: 999, GID: 999}, []corev1.Container{ctr},
		[]corev1.Volume{component.Scratch("run", "16Mi"), component.Scratch("tmp", "1Gi"), shm})
	spec.TerminationGracePeriodSeconds = ptr(int64(60)) // a clean shutdown checkpoints
	c.Objects = []component.Object{x.statefulSet(c, w.Replicas, x.template(c, spec, nil), "data", x.e.Storage.PostgreSQL)}
	return c
}

// The official PostgreSQL and RabbitMQ images use the password from the
// Secret only when they initialise an empty volume. These postStart hooks
// apply it at every start instead, so rotating the sealed password (which
// restarts the pod through its checksum annotation) also changes it in the
// server. Each retries while its server starts and reports to the
// container's log; if the password still cannot be applied it exits
// non-zero, so the kubelet kills and restarts the container: a visible
// CrashLoop instead of a server that silently keeps the old password
// while the Secret holds the new one.
const (
	// Over the local socket, where the image's pg_hba.conf trusts the
	// server's own user; the password travels as a psql variable, quoted
	// by psql (:'pw'), never spliced into SQL text. pg_isready names the
	// role, or the server logs that role "postgres" does not exist. Up to
	// 300 tries a second apart: crash recovery can take minutes, and the
	// kubelet starts the probes only after the hook.
	postgresApplyPassword = `exec >/proc/1/fd/1 2>&1
for i in $(seq 1 300); do
  if pg_isready --host=/var/run/postgresql --username="$POSTGRES_USER" --dbname=postgres --quiet &&
    printf '%s\n' 'ALTER ROLE :"role" WITH PASSWORD :'"'"'pw'"'"';' | psql --host=/var/run/postgresql --username="$POSTGRES_USER" --dbname=postgres --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --set=role="$POSTGRES_USER" --set=pw="$POSTGRES_PASSWORD"; then
    echo "postStart: password of role $POSTGRES_USER applied from the Secret"
    exit 0
  fi
  sleep 1
done
echo "postStart: could not apply the password of role $POSTGRES_USER in 300 tries: failing, so that the kubelet restarts the container"
exit 1
`
	// PID 1 of the official image is the Erlang VM (its entrypoint execs
	// rabbitmq-server, which execs erl): wait --pid 1 waits until that
	// node runs the broker, while await_startup failed at once on a node
	// still booting.
	rabbitmqApplyPassword = `exec >/proc/1/fd/1 2>&1
fail() {
  echo "postStart: could not apply the password of user $RABBITMQ_DEFAULT_USER: $1; failing, so that the kubelet restarts the container"
  exit 1
}
rabbitmqctl wait --pid 1 --timeout 300 >/dev/null || fail "RabbitMQ did not start within 300 s"
for i in $(seq 1 10); do
  if rabbitmqctl change_password "$RABBITMQ_DEFAULT_USER" "$RABBITMQ_DEFAULT_PASS" >/dev/null; then
    echo "postStart: password of user $RABBITMQ_DEFAULT_USER applied from the Secret"
    exit 0
  fi
  sleep 3
done
fail "change_password failed 10 times"
`
)

// redis holds the cache, sessions, Celery results and rate limits
// (databases 0-4), password protected.
func (x env) redis() *component.Component {
	w := x.e.Workloads.Redis
	c := &component.Component{Name: Redis, Role: "cache", Layer: component.LayerData, HasPods: true,
		Version: string(x.e.Images.Redis.Tag),
		Serves:  []component.Port{{Name: "redis", Port: 6379}}}
	// Keep a quarter of the limit for fork-on-save and fragmentation.
	maxMemory := w.Resources.Limits.Memory.Value() * 3 / 4
	ctr := component.Container("redis", x.e.Images.Redis.Ref(), w.Resources)
	ctr.Ports = component.Ports(c)
	ctr.Env = []corev1.EnvVar{
		component.SecretEnv("REDIS_PASSWORD", string(x.e.Secrets.Redis), PasswordKey),
		// redis-cli reads the password from here, so probes keep it off the command line.
		component.SecretEnv("REDISCLI_AUTH", string(x.e.Secrets.Redis), PasswordKey),
	}
	ctr.Command = []string{"redis-server"}
	ctr.Args = []string{
		"--requirepass", "$(REDIS_PASSWORD)",
		"--dir", "/data",
		"--appendonly", "yes",
		"--maxmemory", fmt.Sprint(maxMemory),
		// Only keys with a TTL (cache, sessions, results) may be evicted.
		"--maxmemory-policy", "volatile-lru",
	}
	ping := []string{"sh", "-c", "redis-cli -h 127.0.0.1 ping | grep -q PONG"}
	ctr.VolumeMounts = []corev1.VolumeMount{component.Mount("data", "/data")}
	ctr.StartupProbe = component.ExecProbe(fastStart, ping...)
	ctr.LivenessProbe = component.ExecProbe(liveness, ping...)
	ctr.ReadinessProbe = component.ExecProbe(readiness, ping...)
	spec := component.PodSpec(c, component.User{UID: 999, GID: 999}, []corev1.Container{ctr}, nil)
	c.Objects = []component.Object{x.statefulSet(c, w.Replicas, x.template(c, spec, nil), "data", x.e.Storage.Redis)}
	return c
}

// The broker's user and virtual host.
const (
	brokerUser  = "invenio"
	brokerVHost = "invenio"
)

// rabbitmq is the Celery broker.
func (x env) rabbitmq() *component.Component {
	w := x.e.Workloads.RabbitMQ
	c := &component.Component{Name: RabbitMQ, Role: "broker", Layer: component.LayerData, HasPods: true,
		Version: string(x.e.Images.RabbitMQ.Tag),
		// The official image enables the rabbitmq_prometheus plugin
		// (docker-library/rabbitmq#419): metrics on 15692 in every build.
		Serves: []component.Port{{Name: "amqp", Port: 5672}, {Name: "prometheus", Port: 15692}}}
	if x.e.Monitoring.Enabled {
		// /metrics/per-object: per-queue depths (the aggregated /metrics
		// sums them over all queues).
		c.Metrics = []component.Metrics{{Port: "prometheus", Path: "/metrics/per-object"}}
	}
	conf := x.configMap(c, "rabbitmq-config", map[string]string{
		// Replaces the image's conf.d so /etc/rabbitmq can stay read-only.
		"10-defaults.conf": strings.Join([]string{
			"loopback_users.guest = false",
			"listeners.tcp.default = 5672",
			"management.tcp.port = 15672",
			"log.console = true",
			"log.console.level = info",
			"log.file = false",
			// Alarm (block publishers) at 60 % of the container's memory
			// limit, before the limit kills the pod. In bytes: a relative
			// watermark is a fraction of the memory RabbitMQ detects, and
			// inside a pod it does not always detect the cgroup limit,
			// so it may take the node's memory instead.
			fmt.Sprintf("vm_memory_high_watermark.absolute = %d", w.Resources.Limits.Memory.Value()*6/10),
			"disk_free_limit.absolute = 500MB",
			"",
		}, "\n"),
	})
	ctr := component.Container("rabbitmq", x.e.Images.RabbitMQ.Ref(), w.Resources)
	ctr.Ports = append(component.Ports(c), corev1.ContainerPort{Name: "management", ContainerPort: 15672, Protocol: corev1.ProtocolTCP})
	ctr.Env = []corev1.EnvVar{
		component.Env("RABBITMQ_DEFAULT_USER", brokerUser),
		component.SecretEnv("RABBITMQ_DEFAULT_PASS", string(x.e.Secrets.RabbitMQ), PasswordKey),
		component.Env("RABBITMQ_DEFAULT_VHOST", brokerVHost),
		component.Env("RABBITMQ_CONFIG_FILES", "/etc/rabbitmq/conf.d"),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.Mount("data", "/var/lib/rabbitmq"),
		component.ReadOnlyMount("config", "/etc/rabbitmq/conf.d"),
		component.Mount("logs", "/var/log/rabbitmq"),
		component.Mount("tmp", "/tmp"),
	}
	ctr.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", rabbitmqApplyPassword}}}}
	// No CLI in the probes: every rabbitmq-diagnostics call boots an
	// Erlang VM (seconds of CPU in the broker's own cgroup). On the real
	// programs, while the worker loaded the vocabularies, its ping took
	// over 15 s four times running and the liveness probe killed a busy,
	// healthy broker in the middle of the install (docs/runtime.md). The
	// AMQP listener opens last in the boot (ready, as the RabbitMQ cluster
	// operator probes it); /metrics is answered by the broker itself, so a
	// hung node fails it where a TCP connect (accepted by the kernel) would
	// not.
	ctr.StartupProbe = component.TCPProbe(component.Timing{Period: 10, Timeout: 5, Failures: 30}, "amqp")
	ctr.LivenessProbe = component.HTTPProbe(component.Timing{Period: 30, Timeout: 10, Failures: 4}, "/metrics", "prometheus")
	ctr.ReadinessProbe = component.TCPProbe(component.Timing{Period: 10, Timeout: 5, Failures: 3}, "amqp")
	spec := component.PodSpec(c, component.User{UID: 999, GID: 999}, []corev1.Container{ctr},
		[]corev1.Volume{component.ConfigMapVolume("config", conf.Name, 0o444), component.Scratch("logs", "256Mi"), component.Scratch("tmp", "64Mi")})
	spec.TerminationGracePeriodSeconds = ptr(int64(60))
	sts := x.statefulSet(c, w.Replicas, x.template(c, spec, map[string]string{"checksum/config": checksum(conf)}), "data", x.e.Storage.RabbitMQ)
	c.Objects = []component.Object{conf, sts}
	return c
}

// opensearch is a single search node. It needs no privileged init
// container: with node.store.allow_mmap false it does not need
// vm.max_map_count raised.
func (x env) opensearch() *component.Component {
	w := x.e.Workloads.OpenSearch
	c := &component.Component{Name: OpenSearch, Role: "search", Layer: component.LayerData, HasPods: true,
		Version: string(x.e.Images.OpenSearch.Tag),
		Serves:  []component.Port{{Name: "http", Port: 9200}}}
	conf := x.configMap(c, "opensearch-config", map[string]string{
		"opensearch.yml": strings.Join([]string{
			"cluster.name: " + string(x.site.Name),
			"network.host: 0.0.0.0",
			"discovery.type: single-node",
			"node.store.allow_mmap: false",
			"bootstrap.memory_lock: false",
			// See docs/decisions.md: isolated by NetworkPolicy until TLS
			// certificates for the security plugin are issued in-cluster.
			"plugins.security.disabled: true",
			"action.auto_create_index: true",
		}, "\n") + x.opensearchRepoConfig(),
	})
	heapMB := x.e.Search.HeapSize.Value() / (1 << 20)
	image := x.e.Images.OpenSearch.Ref()
	// The image keeps its default configuration in the config directory,
	// which OpenSearch also writes to (keystore): copy it to a writable
	// volume and lay ours on top.
	initCtr := component.Container("config", image, x.e.Workloads.OpenSearch.Resources)
	initCtr.Command = []string{"sh", "-c", "cp -R /usr/share/opensearch/config/. /config/ && cp /config-src/opensearch.yml /config/opensearch.yml"}
	initCtr.VolumeMounts = []corev1.VolumeMount{component.Mount("config", "/config"), component.ReadOnlyMount("config-src", "/config-src")}
	ctr := component.Container("opensearch", image, w.Resources)
	ctr.Ports = append(component.Ports(c), corev1.ContainerPort{Name: "transport", ContainerPort: 9300, Protocol: corev1.ProtocolTCP})
	ctr.Env = []corev1.EnvVar{
		component.Env("OPENSEARCH_JAVA_OPTS", fmt.Sprintf("-Xms%dm -Xmx%dm", heapMB, heapMB)),
		component.Env("DISABLE_INSTALL_DEMO_CONFIG", "true"),
		component.Env("DISABLE_SECURITY_PLUGIN", "true"),
		component.Env("DISABLE_PERFORMANCE_ANALYZER_AGENT_CLI", "true"),
		component.Env("OPENSEARCH_TMPDIR", "/tmp"),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.Mount("data", "/usr/share/opensearch/data"),
		component.Mount("config", "/usr/share/opensearch/config"),
		component.Mount("logs", "/usr/share/opensearch/logs"),
		component.Mount("tmp", "/tmp"),
	}
	health := []string{"sh", "-c", "curl -fsS 'http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=2s' >/dev/null"}
	volumes := []corev1.Volume{
		component.ConfigMapVolume("config-src", conf.Name, 0o444),
		component.Scratch("config", "64Mi"),
		component.Scratch("logs", "1Gi"),
		component.Scratch("tmp", "1Gi"),
	}
	if x.on(BackupOpenSearch) {
		// The snapshot repository's volume, shared with the backup jobs
		// (in front: where a kustomize merge patch puts what it adds).
		ctr.VolumeMounts = append([]corev1.VolumeMount{component.Mount("snapshots", snapshotsPath)}, ctr.VolumeMounts...)
		volumes = append([]corev1.Volume{claimVolume("snapshots", snapshotClaim, false)}, volumes...)
	}
	ctr.StartupProbe = component.ExecProbe(slowStart, health...)
	// An HTTP request, not a TCP connect: the kernel accepts connections
	// for a hung JVM too (seen in the run-time tests); GET / answers
	// whatever the cluster's health.
	ctr.LivenessProbe = component.HTTPProbe(liveness, "/", "http")
	ctr.ReadinessProbe = component.ExecProbe(readiness, health...)
	spec := component.PodSpec(c, component.User{UID: 1000, GID: 1000}, []corev1.Container{ctr}, volumes)
	spec.InitContainers = []corev1.Container{initCtr}
	spec.TerminationGracePeriodSeconds = ptr(int64(120))
	sts := x.statefulSet(c, w.Replicas, x.template(c, spec, map[string]string{"checksum/config": checksum(conf)}), "data", x.e.Storage.OpenSearch)
	c.Objects = []component.Object{conf, sts}
	return c
}

// opensearchRepoConfig lets OpenSearch keep snapshots on the shared
// snapshot volume (an fs repository must lie below path.repo) when the
// OpenSearch backup is on.
func (x env) opensearchRepoConfig() string {
	if !x.on(BackupOpenSearch) {
		return "\n"
	}
	return "\npath.repo: [\"" + snapshotsPath + "\"]\n"
}
