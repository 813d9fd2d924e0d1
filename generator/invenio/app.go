package invenio

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// AppSecretKeys are the keys of the application Secret, each read into the
// INVENIO_* variable of the same name (upper-cased, '-' → '_').
var AppSecretKeys = []string{
	"secret-key",
	"security-login-salt",
	"security-password-salt",
	"security-confirm-salt",
	"security-reset-salt",
	"security-change-salt",
	"security-remember-salt",
	"csrf-secret-salt",
}

// The Redis databases InvenioRDM uses, by setting (helm-invenio and the
// v12 cookiecutter agree).
var redisDatabases = []struct {
	setting string
	db      int
}{
	{"INVENIO_CACHE_REDIS_URL", 0},
	{"INVENIO_IIIF_CACHE_REDIS_URL", 0},
	{"INVENIO_ACCOUNTS_SESSION_REDIS_URL", 1},
	{"INVENIO_CELERY_RESULT_BACKEND", 2},
	{"INVENIO_RATELIMIT_STORAGE_URI", 3},
	{"INVENIO_COMMUNITIES_IDENTITIES_CACHE_REDIS_URL", 4},
}

// appCalls are the services every process of the application talks to.
var appCalls = []component.Call{
	{To: PostgreSQL, Port: "postgresql"},
	{To: Redis, Port: "redis"},
	{To: RabbitMQ, Port: "amqp"},
	{To: OpenSearch, Port: "http"},
}

// appConfig is the non-secret configuration every application process
// reads (as INVENIO_* variables) and the uWSGI and setup scripts.
func (x env) appConfig() *component.Component {
	c := &component.Component{Name: AppConfig, Role: "config", Layer: component.LayerApp}
	c.Objects = []component.Object{x.appConfigMap(c), x.uwsgiConfigMap(c), x.setupConfigMap(c)}
	return c
}

// InvenioRDM v12's defaults (invenio-app-rdm 12.0.10 and 12.1.0, config.py):
// FILES_REST_DEFAULT_QUOTA_SIZE and the deposit form's number of files.
const (
	defaultQuota    = 10_000_000_000 // 10**10 bytes
	depositMaxFiles = 100
)

func (x env) appConfigMap(c *component.Component) *corev1.ConfigMap {
	host := string(x.e.Host)
	maxFile := x.e.Ingress.MaxUploadSize.Value()
	quota := max(int64(defaultQuota), maxFile)
	data := map[string]string{
		"INVENIO_INSTANCE_PATH":       instancePath,
		"INVENIO_SITE_HOSTNAME":       host,
		"INVENIO_SITE_UI_URL":         "https://" + host,
		"INVENIO_SITE_API_URL":        "https://" + host + "/api",
		"INVENIO_JSONSCHEMAS_HOST":    host,
		"INVENIO_APP_ALLOWED_HOSTS":   fmt.Sprintf("['%s']", host), // invenio-app 1.5 (v12)
		"INVENIO_TRUSTED_HOSTS":       fmt.Sprintf("['%s']", host), // invenio-app 2.x
		"INVENIO_WSGI_PROXIES":        fmt.Sprint(x.e.App.ProxyCount),
		"INVENIO_SEARCH_HOSTS":        "[{'host': 'opensearch', 'port': 9200}]",
		"INVENIO_SEARCH_INDEX_PREFIX": string(x.e.Search.IndexPrefix) + "-",
		// A Python string literal (invenio-config reads INVENIO_* values
		// with ast.literal_eval): a site named None or 0x1F stays a name.
		"INVENIO_THEME_SITENAME":               strconv.Quote(x.e.App.SiteName),
		"INVENIO_LOGGING_CONSOLE_LEVEL":        string(x.e.App.LogLevel),
		"INVENIO_SESSION_COOKIE_SECURE":        "True",
		"INVENIO_ACCOUNTS_LOCAL_LOGIN_ENABLED": "True",
		"INVENIO_SECURITY_REGISTERABLE":        "True",
		// The largest file, as ingress.maxUploadSize lets through every
		// hop before it (invenio-files-rest's own default is 10**10 bytes).
		// The per-record quota is at least InvenioRDM's default, and the
		// deposit form's, computed from it when invenio-app-rdm's config is
		// imported, is set with it. (INVENIO_* values are Python literals.)
		"INVENIO_FILES_REST_DEFAULT_MAX_FILE_SIZE": fmt.Sprint(maxFile),
		"INVENIO_FILES_REST_DEFAULT_QUOTA_SIZE":    fmt.Sprint(quota),
		"INVENIO_APP_RDM_DEPOSIT_FORM_QUOTA":       fmt.Sprintf("{'maxFiles': %d, 'maxStorage': %d}", depositMaxFiles, quota),
		"PYTHONDONTWRITEBYTECODE":                  "1",
		"TMPDIR":                                   "/tmp",
	}
	if x.samlOn() {
		// Users come from the lab's SSO only.
		data["INVENIO_ACCOUNTS_LOCAL_LOGIN_ENABLED"] = "False"
		data["INVENIO_SECURITY_REGISTERABLE"] = "False"
		data["INVENIO_OAUTHCLIENT_LOGIN_USER_TEMPLATE"] = "invenio_saml/login_user.html"
	}
	return x.configMap(c, "invenio-config", data)
}

// uwsgiConfigMap holds the ini files of the two uWSGI applications. No
// limit on a request's total duration (no harakiri: a 1 GB upload or
// download takes as long as the client's line needs); a client that stops
// sending or reading is dropped after ingress.idleTimeout without a byte
// (socket-timeout, whose default of 4 s would abort a response to a client
// that merely pauses).
func (x env) uwsgiConfigMap(c *component.Component) *corev1.ConfigMap {
	ini := func(lines ...string) string {
		base := []string{
			"[uwsgi]",
			"socket = 0.0.0.0:5000",
			"master = true",
			"die-on-term = true",
			"need-app = true",
			"single-interpreter = true",
			fmt.Sprintf("processes = %d", x.e.App.UWSGIProcesses),
			fmt.Sprintf("threads = %d", x.e.App.UWSGIThreads),
			"buffer-size = 65535",
			"wsgi-disable-file-wrapper = true",
			fmt.Sprintf("socket-timeout = %d", x.e.Ingress.IdleTimeout.Seconds()),
		}
		return strings.Join(append(base, append(lines, "")...), "\n")
	}
	return x.configMap(c, "uwsgi-config", map[string]string{
		"ui.ini":  ini("module = invenio_app.wsgi_ui:application"),
		"api.ini": ini("mount = /api=invenio_app.wsgi_rest:application", "manage-script-name = true"),
	})
}

// appEnv is the environment of every application process: the config map,
// each credential by Secret name and key, and the service URLs composed
// from them ($(VAR) is expanded by the kubelet, so no password is written
// into the ConfigMap).
func (x env) appEnv() ([]corev1.EnvFromSource, []corev1.EnvVar) {
	from := []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "invenio-config"}}}}
	var env []corev1.EnvVar
	for _, k := range AppSecretKeys {
		env = append(env, component.SecretEnv("INVENIO_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_")), string(x.e.Secrets.App), k))
	}
	db := x.e.Database
	env = append(env,
		component.SecretEnv("DB_PASSWORD", string(x.e.Secrets.PostgreSQL), PasswordKey),
		component.Env("INVENIO_SQLALCHEMY_DATABASE_URI", fmt.Sprintf("postgresql+psycopg2://%s:$(DB_PASSWORD)@%s:5432/%s", db.User, PostgreSQL, db.Name)),
		component.SecretEnv("BROKER_PASSWORD", string(x.e.Secrets.RabbitMQ), PasswordKey),
		component.Env("INVENIO_BROKER_URL", fmt.Sprintf("amqp://%s:$(BROKER_PASSWORD)@%s:5672/%s", brokerUser, RabbitMQ, brokerVHost)),
		component.Env("INVENIO_CELERY_BROKER_URL", fmt.Sprintf("amqp://%s:$(BROKER_PASSWORD)@%s:5672/%s", brokerUser, RabbitMQ, brokerVHost)),
		component.SecretEnv("REDIS_PASSWORD", string(x.e.Secrets.Redis), PasswordKey),
	)
	for _, r := range redisDatabases {
		env = append(env, component.Env(r.setting, fmt.Sprintf("redis://:$(REDIS_PASSWORD)@%s:6379/%d", Redis, r.db)))
	}
	return from, env
}

// appConfigMaps are the ConfigMaps whose content the application pods'
// checksum covers.
func (x env) appChecksum(c *component.Component) map[string]string {
	cc := &component.Component{Name: AppConfig, Role: "config"}
	cms := []*corev1.ConfigMap{x.appConfigMap(cc), x.uwsgiConfigMap(cc)}
	if x.samlOn() {
		cms = append(cms, x.samlConfigMap(&component.Component{Name: SAML, Role: "auth"}))
	}
	return map[string]string{"checksum/config": checksum(cms...)}
}

// appContainer is a container of the application image with its
// configuration, credentials and the scratch space Python needs.
func (x env) appContainer(name string, resources config.Resources) corev1.Container {
	ctr := component.Container(name, x.e.Image.Ref(), resources)
	ctr.EnvFrom, ctr.Env = x.appEnv()
	ctr.VolumeMounts = []corev1.VolumeMount{component.Mount("tmp", "/tmp")}
	return ctr
}

// filesVolume is the shared uploaded-files volume (ReadWriteMany).
func filesVolume() corev1.Volume {
	return corev1.Volume{Name: "files", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "invenio-files"}}}
}

// web is one of the two uWSGI applications: the UI at / or the REST API
// at /api (the v12 cookiecutter layout, behind the nginx frontend).
func (x env) web(name string) *component.Component {
	w, ini, ping := x.e.Workloads.WebUI, "ui.ini", "/ping"
	if name == WebAPI {
		w, ini, ping = x.e.Workloads.WebAPI, "api.ini", "/api/ping"
	}
	c := &component.Component{Name: name, Role: "web", Layer: component.LayerApp, HasPods: true,
		Version: string(x.e.Image.Tag),
		Serves:  []component.Port{{Name: "uwsgi", Port: 5000}},
		Calls:   appCalls}
	ctr := x.appContainer(name, w.Resources)
	ctr.Command = []string{"uwsgi", "--ini", "/etc/uwsgi/" + ini}
	ctr.Ports = component.Ports(c)
	ctr.VolumeMounts = append(ctr.VolumeMounts,
		component.Mount("files", filesPath),
		component.ReadOnlyMount("uwsgi", "/etc/uwsgi"))
	// /ping answers without the database only once the app has loaded; the
	// Host header must be an allowed host.
	check := []string{"uwsgi_curl", "-X", "HEAD", "-H", "Host: " + string(x.e.Host), "127.0.0.1:5000", ping}
	ctr.StartupProbe = component.ExecProbe(fastStart, check...)
	ctr.LivenessProbe = component.ExecProbe(component.Timing{Period: 20, Timeout: 10, Failures: 6}, check...)
	ctr.ReadinessProbe = component.ExecProbe(readiness, check...)
	volumes := []corev1.Volume{component.Scratch("tmp", "2Gi"), filesVolume(), component.ConfigMapVolume("uwsgi", "uwsgi-config", 0o444)}
	if name == WebUI && x.samlOn() {
		x.samlMounts(c, &ctr, &volumes)
	}
	spec := component.PodSpec(c, appUser, []corev1.Container{ctr}, volumes)
	x.afterSetup(&spec)
	spec.TerminationGracePeriodSeconds = ptr(int64(60))
	dep := x.deployment(c, w.Replicas, x.template(c, spec, x.appChecksum(c)), false)
	c.Objects = append([]component.Object{dep}, x.scaling(c, dep, w)...)
	if name == WebUI {
		c.Objects = append(c.Objects, x.filesClaim(c))
	}
	return c
}

// filesClaim is the uploaded-files volume every application pod mounts.
func (x env) filesClaim(c *component.Component) *corev1.PersistentVolumeClaim {
	meta := x.meta.ObjectMeta(&component.Component{Name: "invenio-files", Role: "storage"}, "invenio-files")
	keepWhenPruned(&meta)
	pvc := x.claim(meta, corev1.ReadWriteMany, string(x.e.Storage.ReadWriteManyClass), x.e.Storage.Files)
	return &pvc
}

// frontend is nginx: it serves the static assets (copied out of the
// application image at start) and passes everything else to uWSGI.
func (x env) frontend() *component.Component {
	w := x.e.Workloads.Frontend
	c := &component.Component{Name: Frontend, Role: "frontend", Layer: component.LayerApp, HasPods: true,
		Version:               string(x.e.Images.Nginx.Tag),
		Serves:                []component.Port{{Name: "http", Port: 8080}},
		FromIngressController: "http",
		Calls:                 []component.Call{{To: WebUI, Port: "uwsgi"}, {To: WebAPI, Port: "uwsgi"}}}
	conf := x.configMap(c, "frontend-nginx", map[string]string{"default.conf": x.nginxConf()})
	static := component.Container("static", x.e.Image.Ref(), w.Resources)
	static.Command = []string{"cp", "-R", staticPath + "/.", "/static/"}
	static.SecurityContext.RunAsUser = &appUser.UID // the image's files belong to invenio
	static.VolumeMounts = []corev1.VolumeMount{component.Mount("static", "/static")}
	ctr := component.Container("nginx", x.e.Images.Nginx.Ref(), w.Resources)
	ctr.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	ctr.Env = []corev1.EnvVar{component.Env("NGINX_ENTRYPOINT_QUIET_LOGS", "1")}
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.ReadOnlyMount("static", "/static"),
		component.ReadOnlyMount("config", "/etc/nginx/conf.d"),
		component.Mount("tmp", "/tmp"),
		component.Mount("cache", "/var/cache/nginx"),
	}
	ctr.LivenessProbe = component.HTTPProbe(liveness, "/nginx-health", "http")
	ctr.ReadinessProbe = component.HTTPProbe(readiness, "/nginx-health", "http")
	containers := []corev1.Container{ctr}
	if x.e.Monitoring.Enabled {
		// In front: a strategic-merge patch puts what it adds first, so
		// this keeps the monitored environments' patch to the one container.
		containers = append([]corev1.Container{x.nginxExporter(c)}, containers...)
	}
	spec := component.PodSpec(c, component.User{UID: 101, GID: 101}, containers, []corev1.Volume{
		component.Scratch("static", "1Gi"),
		component.ConfigMapVolume("config", conf.Name, 0o444),
		component.Scratch("tmp", "1Gi"),
		component.Scratch("cache", "256Mi"),
	})
	spec.InitContainers = []corev1.Container{static}
	// kubectl logs/exec pick nginx, not the metrics sidecar.
	dep := x.deployment(c, w.Replicas, x.template(c, spec, map[string]string{
		"checksum/config": checksum(conf), "kubectl.kubernetes.io/default-container": "nginx"}), false)
	c.Objects = append([]component.Object{conf, dep}, x.scaling(c, dep, w)...)
	return c
}

// The routes of InvenioRDM v12 that carry file contents, as nginx
// regular expressions: a file's content, uploaded (PUT) or downloaded
// (GET), of a record or a draft (the key may hold '/'; a trailing part
// number is a multipart upload); the zip of all of a record's files; and
// the UI's download link of the landing page.
const (
	fileContentRoute = `^/api/records/[^/]+/(draft/)?files/.+/content(/[0-9]+)?/?$`
	fileArchiveRoute = `^/api/records/[^/]+/(draft/)?files-archive/?$`
	fileDownloadUI   = `^/records/[^/]+/files/.+$`
)

// requestID is the frontend's variable for the request id it
// passes to uWSGI and returns: the ingress controller's X-Request-ID,
// else nginx's own $request_id.
const requestID = "$invenio_request_id"

// flaskMaxContentLength is MAX_CONTENT_LENGTH of invenio-app-rdm 12: the
// largest request body of any route but the file contents.
const flaskMaxContentLength = 100 << 20

// nginxSize writes a byte count as an nginx size without loss: in the
// largest of g, m and k that divides it exactly, else in bytes. (nginx
// reads 0 as "no limit", so a size is never rounded down to it.)
func nginxSize(bytes int64) string {
	if bytes <= 0 {
		panic(fmt.Sprintf("invenio: nginx size of %d bytes", bytes)) // config requires at least 1Mi
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if bytes%u.size == 0 {
			return fmt.Sprintf("%d%s", bytes/u.size, u.suffix)
		}
	}
	return fmt.Sprint(bytes)
}

// nginxConf routes / to the UI, /api to the REST API and serves /static.
// No timeout limits a transfer's total duration: each gives up only after
// ingress.idleTimeout with no byte moving, towards the client
// (client_body_timeout, send_timeout) and towards uWSGI
// (uwsgi_read_timeout, uwsgi_send_timeout). File contents stream through
// in both directions, never spooled to this pod's /tmp: request and
// response buffering are off on the file routes, and uploads there may be
// as large as the largest file.
func (x env) nginxConf() string {
	idle := fmt.Sprintf("%ds", x.e.Ingress.IdleTimeout.Seconds())
	location := func(match, upstream string, directives ...string) []string {
		l := []string{"  location " + match + " {"}
		for _, d := range append(directives,
			"uwsgi_pass "+upstream+";",
			"include uwsgi_params;",
			"uwsgi_param Host $host;",
			"uwsgi_param HTTP_X_FORWARDED_FOR $proxy_add_x_forwarded_for;",
			"uwsgi_param HTTP_X_FORWARDED_PROTO $http_x_forwarded_proto;",
			"uwsgi_param HTTP_X_REQUEST_ID "+requestID+";",
			"uwsgi_read_timeout "+idle+";",
			"uwsgi_send_timeout "+idle+";",
		) {
			l = append(l, "    "+d)
		}
		return append(l, "  }")
	}
	streamed := []string{"uwsgi_request_buffering off;", "uwsgi_buffering off;"}
	lines := []string{
		"# Generated: InvenioRDM frontend (nginx in front of uWSGI).",
		"# The request id the ingress controller sent, else one of our own.",
		"map $http_x_request_id " + requestID + " {",
		"  default $http_x_request_id;",
		"  \"\" $request_id;",
		"}",
		"upstream ui { server web-ui:5000; }",
		"upstream api { server web-api:5000; }",
		"server {",
		"  listen 8080;",
		"  server_name _;",
		"  charset utf-8;",
		// Every route but the file contents: Flask's MAX_CONTENT_LENGTH in
		// invenio-app-rdm 12 (100 MiB), so nginx refuses what the
		// application would refuse anyway.
		"  client_max_body_size " + nginxSize(flaskMaxContentLength) + ";",
		"  client_body_timeout " + idle + ";",
		"  send_timeout " + idle + ";",
		"  add_header X-Request-ID " + requestID + " always;",
		"  location = /nginx-health { access_log off; return 200 'ok'; }",
		// Content-hashed names never change: one Cache-Control header (not
		// expires beside it), and the request id again, as an add_header
		// here hides the server's.
		"  location /static/dist/ {",
		"    alias /static/dist/;",
		"    add_header Cache-Control \"public, max-age=31536000, immutable\";",
		"    add_header X-Request-ID " + requestID + " always;",
		"  }",
		"  location /static/ { alias /static/; expires 1d; }",
		"  # File contents, streamed both ways.",
	}
	lines = append(lines, location("~ "+fileContentRoute, "api", append([]string{"client_max_body_size " + nginxSize(x.e.Ingress.MaxUploadSize.Value()) + ";"}, streamed...)...)...)
	lines = append(lines, location("~ "+fileArchiveRoute, "api", streamed...)...)
	lines = append(lines, location("~ "+fileDownloadUI, "ui", streamed...)...)
	// /api and below it, not /apifoo (the UI's).
	lines = append(lines, location("= /api", "api")...)
	lines = append(lines, location("/api/", "api")...)
	lines = append(lines, location("/", "ui")...)
	lines = append(lines, "}",
		"# Connection counters for the metrics sidecar, on loopback only.",
		"server {",
		fmt.Sprintf("  listen 127.0.0.1:%d;", nginxStatusPort),
		"  location = /stub_status { stub_status; access_log off; }",
		"}", "")
	return strings.Join(lines, "\n")
}

// worker runs Celery tasks (indexing, files, e-mails, statistics).
func (x env) worker() *component.Component {
	w := x.e.Workloads.Worker
	c := &component.Component{Name: Worker, Role: "worker", Layer: component.LayerApp, HasPods: true,
		Version: string(x.e.Image.Tag), Calls: appCalls}
	ctr := x.appContainer(Worker, w.Resources)
	ctr.Command = []string{"celery", "-A", "invenio_app.celery", "worker",
		"--loglevel", string(x.e.App.LogLevel), "--concurrency", fmt.Sprint(x.e.App.WorkerConcurrency)}
	ctr.VolumeMounts = append(ctr.VolumeMounts, component.Mount("files", filesPath))
	ping := []string{"python", "-c", workerPing}
	ctr.StartupProbe = component.ExecProbe(component.Timing{Period: 15, Timeout: 10, Failures: 20}, ping...) // up to 5 minutes to start
	ctr.LivenessProbe = component.ExecProbe(component.Timing{Period: 30, Timeout: 10, Failures: 4}, ping...) // 2 minutes without an answer
	ctr.ReadinessProbe = component.ExecProbe(component.Timing{Period: 30, Timeout: 10, Failures: 2}, ping...)
	spec := component.PodSpec(c, appUser, []corev1.Container{ctr}, []corev1.Volume{component.Scratch("tmp", "4Gi"), filesVolume()})
	x.afterSetup(&spec)
	spec.TerminationGracePeriodSeconds = ptr(int64(300)) // let running tasks finish
	dep := x.deployment(c, w.Replicas, x.template(c, spec, x.appChecksum(c)), false)
	c.Objects = append([]component.Object{dep}, x.scaling(c, dep, w)...)
	return c
}

// workerPing is the worker's probe: is this pod's worker answering
// through the broker? What `celery inspect ping -d celery@$HOSTNAME` does,
// without loading InvenioRDM (-A invenio_app.celery built the whole
// application for every probe: seconds of CPU, hundreds of MB). A bare
// Celery app would do, its broker URL read from the environment (so the
// password is on no command line), but it accepts only JSON replies, and
// the worker answers in InvenioRDM's task serializer, msgpack
// (invenio-celery's CELERY_TASK_SERIALIZER): the celery CLI has no option
// for that, hence these lines. The 5 s wait ends at the first reply;
// the probes allow 10 s.
const workerPing = `import os, socket, sys
from celery import Celery
app = Celery(broker=os.environ["INVENIO_CELERY_BROKER_URL"], accept_content=["json", "msgpack"], set_as_current=False)
sys.exit(0 if app.control.ping(destination=["celery@" + socket.gethostname()], timeout=5) else 1)
`

// BeatStaleMinutes is how old beat's schedule file may grow before its
// liveness probe fails: Celery writes it back every 3 minutes
// (Scheduler.sync_every) after a sleep of at most beatMaxInterval.
const BeatStaleMinutes = 5

// beatMaxInterval is the longest beat sleeps between two looks at its
// schedule, in seconds (Celery's default: 300).
const beatMaxInterval = 60

// beatRun is beat's writable directory (an emptyDir): its schedule
// database (a shelve) and its pidfile.
const (
	beatRun      = "/var/run/celery"
	beatSchedule = beatRun + "/celery-schedule"
	beatPidfile  = beatRun + "/celerybeat.pid"
)

// beat schedules periodic tasks: exactly one replica, replaced (never
// rolled) so two never run at once.
func (x env) beat() *component.Component {
	w := x.e.Workloads.Beat
	c := &component.Component{Name: Beat, Role: "scheduler", Layer: component.LayerApp, HasPods: true,
		Version: string(x.e.Image.Tag),
		Calls:   []component.Call{{To: Redis, Port: "redis"}, {To: RabbitMQ, Port: "amqp"}}}
	ctr := x.appContainer(Beat, w.Resources)
	// The pidfile of a killed beat outlives it in the emptyDir, and the
	// next beat, PID 1 again, takes it for a running one and exits ("Pidfile
	// already exists"): on the real programs a kill -9 left beat in
	// CrashLoopBackOff. A container's beat is always the only one.
	//
	// The schedule is made a dbm.dumb database before beat opens it:
	// shelve takes the format of an existing file, and dbm.dumb rewrites
	// its index on every sync, which the liveness probe sees. The default
	// is whatever dbm the image's Python has first; Debian's (Berkeley DB
	// through dbm.ndbm) never touched the file after its creation, so on
	// the real programs the probe killed a working beat every 8 minutes.
	ctr.Command = []string{"sh", "-c", fmt.Sprintf(`rm -f %[4]s && python -c 'import dbm.dumb; dbm.dumb.open("%[1]s", "c").close()' && `+
		`exec celery -A invenio_app.celery beat --loglevel %[2]s --max-interval %[3]d --schedule %[1]s --pidfile %[4]s`,
		beatSchedule, x.e.App.LogLevel, beatMaxInterval, beatPidfile)}
	ctr.VolumeMounts = append(ctr.VolumeMounts, component.Mount("run", beatRun))
	alive := []string{"sh", "-c", "kill -0 \"$(cat " + beatPidfile + ")\""}
	ctr.StartupProbe = component.ExecProbe(fastStart, alive...)
	// A hung beat still has its pid: what shows it works is its schedule
	// file, written back every 3 minutes.
	ctr.LivenessProbe = component.ExecProbe(component.Timing{Period: 60, Timeout: 10, Failures: 3}, "sh", "-c",
		fmt.Sprintf("find %s -maxdepth 1 -name '%s*' -mmin -%d | grep -q .", beatRun, path.Base(beatSchedule), BeatStaleMinutes))
	ctr.ReadinessProbe = component.ExecProbe(readiness, alive...)
	spec := component.PodSpec(c, appUser, []corev1.Container{ctr}, []corev1.Volume{component.Scratch("tmp", "256Mi"), component.Scratch("run", "64Mi")})
	x.afterSetup(&spec)
	replicas := w.Replicas
	if replicas > 1 {
		replicas = 1
	}
	c.Objects = []component.Object{x.deployment(c, replicas, x.template(c, spec, x.appChecksum(c)), true)}
	return c
}

// releaseEnv names the application's release (its image) for the setup
// Job, which records when the release's schema is in place, and for the
// init container that waits for that record. Not INVENIO_*: invenio-config
// would read it as a setting.
const releaseEnv = "PLATFORM_RELEASE"

// restoreEnv tells the setup Job that an empty database is restored from
// the backups by the restore Job: it waits for it instead of installing.
const restoreEnv = "PLATFORM_RESTORE"

// afterSetup makes an application pod start only once the setup Job has
// put its release's database and indices in place (the install's step
// "release", or the end of an upgrade): an init container waits for the
// record (scripts/setup_state.py wait-release). On a release the new pods
// wait while the Job migrates, the old ones keep serving (rolling update,
// maxUnavailable 0 at these replica counts), and Flux's health check of
// the app layer holds until the new pods are ready.
func (x env) afterSetup(spec *corev1.PodSpec) {
	wait := x.appContainer("wait-for-setup", waitResources)
	wait.Command = []string{"python", setupDir + "/setup_state.py", "wait-release", "$(" + releaseEnv + ")"}
	wait.Env = append(wait.Env, component.Env(releaseEnv, x.e.Image.Ref()))
	wait.VolumeMounts = append(wait.VolumeMounts, component.ReadOnlyMount("setup", setupDir))
	spec.InitContainers = append(spec.InitContainers, wait)
	spec.Volumes = append(spec.Volumes, component.ConfigMapVolume("setup", "invenio-setup", 0o555))
}

// waitResources size the wait for the setup Job: SQLAlchemy and psycopg2
// polling one row (39 MiB resident, measured with /usr/bin/time -f %M on
// the run-time harness's InvenioRDM virtualenv).
var waitResources = config.Resources{
	Requests: config.CPUMemory{CPU: config.Q("10m"), Memory: config.Q("64Mi")},
	Limits:   config.CPUMemory{CPU: config.Q("200m"), Memory: config.Q("128Mi")},
}

// setupDir is where the setup scripts are mounted.
const setupDir = "/etc/invenio-setup"

// setup initialises a new installation and upgrades an existing one; safe
// to run again on every release (see setup.sh).
func (x env) setup() *component.Component {
	w := x.e.Workloads.Setup
	c := &component.Component{Name: Setup, Role: "setup", Layer: component.LayerApp, HasPods: true,
		Version: string(x.e.Image.Tag), Calls: appCalls}
	ctr := x.appContainer(Setup, w.Resources)
	ctr.Command = []string{"sh", setupDir + "/setup.sh"}
	ctr.Env = append(ctr.Env, component.Env(releaseEnv, x.e.Image.Ref()))
	deadline := int64(3600)
	if x.e.Backup.RestoreOn() {
		// An empty database is being restored (restore.go), not installed.
		ctr.Env = append(ctr.Env, component.Env(restoreEnv, "1"))
		deadline += restoreDeadline
	}
	ctr.VolumeMounts = append(ctr.VolumeMounts, component.Mount("files", filesPath), component.ReadOnlyMount("script", setupDir))
	spec := component.PodSpec(c, appUser, []corev1.Container{ctr}, []corev1.Volume{
		component.Scratch("tmp", "2Gi"), filesVolume(), component.ConfigMapVolume("script", "invenio-setup", 0o555)})
	spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{
		TypeMeta:   x.typeMeta("Job"),
		ObjectMeta: x.workloadMeta(c, "invenio-setup"),
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr(int32(3)),
			ActiveDeadlineSeconds: &deadline,
			Template:              x.template(c, spec, x.appChecksum(c)),
		},
	}
	// A Job's template is immutable: Flux replaces the Job when it changes
	// (a new image or configuration), which runs the upgrade steps again.
	job.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/force": "enabled"}
	c.Objects = []component.Object{job}
	return c
}

// setupConfigMap holds the setup script and its install record: a
// database whose install has ended is upgraded, an empty one initialised,
// and a half-installed one resumed at the step an attempt died in.
func (x env) setupConfigMap(c *component.Component) *corev1.ConfigMap {
	return x.configMap(c, "invenio-setup", map[string]string{"setup.sh": script("setup.sh"), "setup_state.py": script("setup_state.py")})
}
