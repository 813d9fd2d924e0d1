package invenio

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	routev1 "github.com/openshift/api/route/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// testEnv is a small valid environment on the Go defaults, changed by edit.
func testEnv(edit func(*config.Environment)) config.Environment {
	e := config.Defaults()
	e.Name, e.Namespace, e.Host, e.Cluster = "dev", "invenio-dev", "invenio.example.org", "dev"
	e.Image = config.Image{Repository: "ghcr.io/lbnl/invenio", Tag: "v12.0.10"}
	e.Search.IndexPrefix = "dev"
	if edit != nil {
		edit(&e)
	}
	return e
}

// objects renders e and indexes every object by Kind/name.
func objects(t *testing.T, e config.Environment) map[string]component.Object {
	t.Helper()
	out := map[string]component.Object{}
	for _, c := range Components(config.DefaultSite(), e, Options{}) {
		for _, o := range c.Objects {
			key := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName()
			if _, dup := out[key]; dup {
				t.Fatalf("%s rendered twice", key)
			}
			out[key] = o
		}
	}
	return out
}

func configMapData(t *testing.T, objs map[string]component.Object, name, key string) string {
	t.Helper()
	cm, ok := objs["ConfigMap/"+name].(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("no ConfigMap %s", name)
	}
	v, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", name, key)
	}
	return v
}

func container(t *testing.T, objs map[string]component.Object, workload, name string) corev1.Container {
	t.Helper()
	var spec corev1.PodSpec
	switch o := objs[workload].(type) {
	case *appsv1.Deployment:
		spec = o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		spec = o.Spec.Template.Spec
	default:
		t.Fatalf("no workload %s", workload)
	}
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s has no container %s", workload, name)
	return corev1.Container{}
}

// iniSettings reads a uWSGI ini file as key → values (a key may repeat).
func iniSettings(ini string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(ini, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}

// TestUWSGIIni: both applications hand the request body to the
// application as it arrives (no post-buffering: it would spool every
// upload whole into /tmp first).
func TestUWSGIIni(t *testing.T) {
	objs := objects(t, testEnv(nil))
	for _, ini := range []string{"ui.ini", "api.ini"} {
		t.Run(ini, func(t *testing.T) {
			s := iniSettings(configMapData(t, objs, "uwsgi-config", ini))
			for _, absent := range []string{"post-buffering", "post-buffering-bufsize"} {
				if v, ok := s[absent]; ok {
					t.Errorf("%s = %v: must not be set", absent, v)
				}
			}
			for _, want := range []string{"socket", "master", "processes", "threads", "buffer-size", "wsgi-disable-file-wrapper"} {
				if len(s[want]) != 1 {
					t.Errorf("%s = %v, want one value", want, s[want])
				}
			}
		})
	}
}

// TestIdleTimeoutEveryHop: no hop limits a transfer's total duration, and
// every hop gives up after the same ingress.idleTimeout without a byte:
// uWSGI (socket-timeout, no harakiri), the frontend towards the client and
// towards uWSGI in every location, the Ingress's proxy timeouts, the
// Envoy Gateway ClientTrafficPolicy's stream idle timeout and the Route's
// HAProxy server timeout.
func TestIdleTimeoutEveryHop(t *testing.T) {
	for _, c := range []struct {
		timeout config.Timeout
		seconds string
	}{{"180s", "180"}, {"1s", "1"}, {"45m", "2700"}, {"1h", "3600"}} {
		t.Run(string(c.timeout), func(t *testing.T) {
			objs := objects(t, testEnv(func(e *config.Environment) {
				e.Ingress.IdleTimeout = c.timeout
				e.Ingress.Exposure = config.ExposureIngress
			}))
			for _, ini := range []string{"ui.ini", "api.ini"} {
				s := iniSettings(configMapData(t, objs, "uwsgi-config", ini))
				if got := s["socket-timeout"]; len(got) != 1 || got[0] != c.seconds {
					t.Errorf("%s: socket-timeout = %v, want %s", ini, got, c.seconds)
				}
				for k, v := range s {
					if strings.HasPrefix(k, "harakiri") || k == "http-timeout" {
						t.Errorf("%s: %s = %v: no limit on a request's duration", ini, k, v)
					}
				}
			}

			_, server := frontendServer(t, configMapData(t, objs, "frontend-nginx", "default.conf"))
			idle := c.seconds + "s"
			for _, d := range []string{"client_body_timeout", "send_timeout"} {
				if got := server.all(d); len(got) != 1 || strings.Join(got[0], " ") != idle {
					t.Errorf("server: %s = %v, want %s", d, got, idle)
				}
			}
			passes := 0
			for _, l := range server.blocks("location") {
				if len(l.all("uwsgi_pass")) == 0 {
					continue
				}
				passes++
				for _, d := range []string{"uwsgi_read_timeout", "uwsgi_send_timeout", "client_body_timeout", "send_timeout"} {
					if got := l.effective(d); len(got) != 1 || strings.Join(got[0], " ") != idle {
						t.Errorf("location %s: %s = %v, want %s", strings.Join(l.Args, " "), d, got, idle)
					}
				}
			}
			if passes < 3 {
				t.Errorf("%d locations pass to uWSGI, want at least 3 (files, /api, /)", passes)
			}
			// No other timeout of a transfer anywhere in the file.
			var walk func(b *nginxBlock)
			walk = func(b *nginxBlock) {
				for _, d := range b.Directives {
					if strings.HasSuffix(d[0], "_timeout") && d[0] != "uwsgi_connect_timeout" && strings.Join(d[1:], " ") != idle {
						t.Errorf("%s %v: every transfer timeout is the idle timeout %s", d[0], d[1:], idle)
					}
				}
				for _, c := range b.Blocks {
					walk(c)
				}
			}
			walk(server)

			ing := objs["Ingress/invenio"].(*networkingv1.Ingress)
			for _, a := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
				if got := ing.Annotations["nginx.ingress.kubernetes.io/"+a]; got != c.seconds {
					t.Errorf("Ingress %s = %q, want %s", a, got, c.seconds)
				}
			}
			gw := objects(t, testEnv(func(e *config.Environment) { e.Ingress.IdleTimeout = c.timeout }))
			ctp := gw["ClientTrafficPolicy/invenio"].(*egv1a1.ClientTrafficPolicy)
			if got := string(*ctp.Spec.Timeout.HTTP.StreamIdleTimeout); got != c.seconds+"s" {
				t.Errorf("ClientTrafficPolicy streamIdleTimeout = %q, want %ss", got, c.seconds)
			}
			rt := objects(t, testEnv(func(e *config.Environment) {
				e.Ingress.IdleTimeout = c.timeout
				e.Ingress.Exposure = config.ExposureRoute
			}))["Route/invenio"].(*routev1.Route)
			if got := rt.Annotations["haproxy.router.openshift.io/timeout"]; got != c.seconds+"s" {
				t.Errorf("Route timeout = %q, want %ss", got, c.seconds)
			}
		})
	}
}

// TestFileRoutesStreamed: the routes that carry file contents, up and
// down, pass through the frontend unbuffered in both directions (nginx
// would otherwise spool a large download into its 1Gi /tmp), to the right
// application; every other route keeps nginx's buffering and the small
// body limit.
func TestFileRoutesStreamed(t *testing.T) {
	objs := objects(t, testEnv(nil))
	_, server := frontendServer(t, configMapData(t, objs, "frontend-nginx", "default.conf"))
	const id = "/api/records/abc12-3xy45"
	for _, c := range []struct {
		uri, upstream string
		streamed      bool
		upload        bool // the large body limit
	}{
		{id + "/draft/files/data.zip/content", "api", true, true},   // PUT: upload; GET: draft download
		{id + "/files/data.zip/content", "api", true, true},         // GET: download
		{id + "/files/a/b/data.tar/content", "api", true, true},     // keys may hold '/'
		{id + "/draft/files/data.zip/content/3", "api", true, true}, // a part of a multipart upload
		{id + "/files-archive", "api", true, false},
		{id + "/draft/files-archive", "api", true, false},
		{"/records/abc12-3xy45/files/data.zip", "ui", true, false}, // the landing page's download link
		{id + "/draft/files", "api", false, false},                 // POST: start uploads (JSON)
		{id + "/draft/files/data.zip", "api", false, false},        // a file's metadata
		{id + "/draft/files/data.zip/commit", "api", false, false},
		{id + "/draft", "api", false, false},
		{"/api/records", "api", false, false},
		{"/records/abc12-3xy45", "ui", false, false},
		{"/uploads/new", "ui", false, false},
		{"/", "ui", false, false},
	} {
		t.Run(c.uri, func(t *testing.T) {
			l := route(t, server, c.uri)
			if got := one(t, l, "uwsgi_pass"); got != c.upstream {
				t.Errorf("location %s passes to %q, want %s", strings.Join(l.Args, " "), got, c.upstream)
			}
			want := map[bool]string{true: "off", false: ""}[c.streamed]
			for _, d := range []string{"uwsgi_request_buffering", "uwsgi_buffering"} {
				if got := one(t, l, d); got != want {
					t.Errorf("location %s: %s %q, want %q", strings.Join(l.Args, " "), d, got, want)
				}
			}
			body := one(t, l, "client_max_body_size")
			if c.upload && body != "50g" || !c.upload && body != "100m" { // the default maxUploadSize 50Gi; Flask's 100 MiB
				t.Errorf("location %s: client_max_body_size %s", strings.Join(l.Args, " "), body)
			}
		})
	}
}

// TestNginxSize: a byte count in the largest unit that divides it
// exactly, never rounded (nginx reads 0 as unlimited).
func TestNginxSize(t *testing.T) {
	for _, c := range []struct {
		bytes int64
		want  string
	}{
		{1, "1"},
		{1000, "1000"},
		{1024, "1k"},
		{1 << 20, "1m"},
		{1536 << 10, "1536k"},
		{3 << 29, "1536m"},
		{50 << 30, "50g"},
		{200 << 30, "200g"},
		{1 << 40, "1024g"},
		{1_000_000, "1000000"},
		{10_000_000_000, "9765625k"}, // 10G = 10**10 = 9765625 × 1024
		{100 << 20, "100m"},
		{(1 << 20) + 1, "1048577"},
	} {
		if got := nginxSize(c.bytes); got != c.want {
			t.Errorf("nginxSize(%d) = %q, want %q", c.bytes, got, c.want)
		}
	}
}

// TestUploadLimitEveryHop: ingress.maxUploadSize decides every hop
// exactly: the Ingress's proxy-body-size, the frontend's file-content
// route and InvenioRDM's largest file, its quota (at least InvenioRDM's 10
// GB) and the deposit form's quota; none is 0 (unlimited for nginx), and
// every other route keeps Flask's 100 MiB.
func TestUploadLimitEveryHop(t *testing.T) {
	for _, c := range []struct {
		size, nginx, maxFile, quota string
	}{
		{"1Mi", "1m", "1048576", "10000000000"},
		{"1536Ki", "1536k", "1572864", "10000000000"},
		{"1.5Gi", "1536m", "1610612736", "10000000000"},
		{"10G", "9765625k", "10000000000", "10000000000"},
		{"10000000001", "10000000001", "10000000001", "10000000001"},
		{"50Gi", "50g", "53687091200", "53687091200"},
		{"200Gi", "200g", "214748364800", "214748364800"},
		{"1Ti", "1024g", "1099511627776", "1099511627776"},
	} {
		t.Run(c.size, func(t *testing.T) {
			objs := objects(t, testEnv(func(e *config.Environment) {
				e.Ingress.MaxUploadSize = config.Q(c.size)
				e.Ingress.Exposure = config.ExposureIngress
			}))
			ing := objs["Ingress/invenio"].(*networkingv1.Ingress)
			if got := ing.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"]; got != c.nginx {
				t.Errorf("Ingress proxy-body-size = %q, want %s", got, c.nginx)
			}
			_, server := frontendServer(t, configMapData(t, objs, "frontend-nginx", "default.conf"))
			if got := one(t, route(t, server, "/api/records/abc12-3xy45/draft/files/big.h5/content"), "client_max_body_size"); got != c.nginx {
				t.Errorf("frontend file route client_max_body_size = %q, want %s", got, c.nginx)
			}
			if got := one(t, route(t, server, "/api/records/abc12-3xy45/draft"), "client_max_body_size"); got != "100m" {
				t.Errorf("frontend /api client_max_body_size = %q, want 100m (Flask's MAX_CONTENT_LENGTH)", got)
			}
			env := objs["ConfigMap/invenio-config"].(*corev1.ConfigMap).Data
			for k, want := range map[string]string{
				"INVENIO_FILES_REST_DEFAULT_MAX_FILE_SIZE": c.maxFile,
				"INVENIO_FILES_REST_DEFAULT_QUOTA_SIZE":    c.quota,
				"INVENIO_APP_RDM_DEPOSIT_FORM_QUOTA":       "{'maxFiles': 100, 'maxStorage': " + c.quota + "}",
			} {
				if env[k] != want {
					t.Errorf("%s = %q, want %q", k, env[k], want)
				}
			}
			// The hops agree: nginx's size and the application's bytes
			// are the same number, and none is 0.
			q := config.Q(c.size)
			if c.maxFile != fmt.Sprint(q.Value()) || nginxBytes(t, c.nginx) != q.Value() || q.Value() == 0 {
				t.Errorf("%s: nginx %s and application %s disagree with %d bytes", c.size, c.nginx, c.maxFile, q.Value())
			}
		})
	}
}

// nginxBytes reads an nginx size back as bytes.
func nginxBytes(t *testing.T, s string) int64 {
	t.Helper()
	mult := map[byte]int64{'k': 1 << 10, 'm': 1 << 20, 'g': 1 << 30}[s[len(s)-1]]
	if mult == 0 {
		mult = 1
	} else {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("nginx size %q: %v", s, err)
	}
	return n * mult
}

// TestFrontendHeadersAndRoutes: the request id is the ingress
// controller's X-Request-ID when it sent one (else nginx's own), passed to
// uWSGI and returned on every response, the static assets' too; the
// content-hashed assets carry exactly one Cache-Control; /api routes only
// /api and below it to the REST API.
func TestFrontendHeadersAndRoutes(t *testing.T) {
	objs := objects(t, testEnv(nil))
	root, server := frontendServer(t, configMapData(t, objs, "frontend-nginx", "default.conf"))
	var id string
	for _, m := range root.blocks("map") {
		if len(m.Args) == 2 && m.Args[0] == "$http_x_request_id" {
			id = m.Args[1]
			if got := fmt.Sprint(m.Directives); got != "[[default $http_x_request_id] [ $request_id]]" {
				t.Errorf("map %s: %s, want the incoming header, else $request_id", id, got)
			}
		}
	}
	if id == "" {
		t.Fatalf("no map from $http_x_request_id")
	}
	for _, uri := range []string{"/", "/api", "/api/records", "/static/dist/app.1234.js", "/static/images/logo.svg",
		"/nginx-health", "/records/abc12-3xy45/files/data.zip", "/api/records/abc12-3xy45/files/data.zip/content"} {
		l := route(t, server, uri)
		var requestIDs, cacheControls []string
		for _, h := range l.effective("add_header") {
			switch h[0] {
			case "X-Request-ID":
				requestIDs = append(requestIDs, strings.Join(h[1:], " "))
			case "Cache-Control":
				cacheControls = append(cacheControls, strings.Join(h[1:], " "))
			}
		}
		if fmt.Sprint(requestIDs) != "["+id+" always]" {
			t.Errorf("%s: X-Request-ID headers %v, want %s on every response", uri, requestIDs, id)
		}
		if strings.HasPrefix(uri, "/static/dist/") {
			if fmt.Sprint(cacheControls) != "[public, max-age=31536000, immutable]" || len(l.effective("expires")) > 0 {
				t.Errorf("%s: Cache-Control %v, expires %v: want exactly one Cache-Control: public, max-age=31536000, immutable", uri, cacheControls, l.effective("expires"))
			}
		} else if len(cacheControls) > 0 {
			t.Errorf("%s: Cache-Control %v", uri, cacheControls)
		}
		if len(l.all("uwsgi_pass")) > 0 {
			var passed []string
			for _, p := range l.effective("uwsgi_param") {
				if p[0] == "HTTP_X_REQUEST_ID" {
					passed = append(passed, strings.Join(p[1:], " "))
				}
			}
			if fmt.Sprint(passed) != "["+id+"]" {
				t.Errorf("%s: uWSGI gets HTTP_X_REQUEST_ID %v, want %s", uri, passed, id)
			}
		}
	}
	for uri, want := range map[string]string{"/api": "api", "/api/": "api", "/api/records": "api", "/apifoo": "ui", "/api-docs": "ui", "/": "ui"} {
		if got := one(t, route(t, server, uri), "uwsgi_pass"); got != want {
			t.Errorf("%s goes to %q, want %s", uri, got, want)
		}
	}
}

// TestRabbitMQMemoryWatermark: the alarm is 60 % of the container's memory
// limit in bytes, never a fraction of whatever memory RabbitMQ detects.
func TestRabbitMQMemoryWatermark(t *testing.T) {
	for _, c := range []struct{ limit, want string }{
		{"1Gi", "644245094"},
		{"2Gi", "1288490188"},
		{"512Mi", "322122547"},
		{"3G", "1800000000"},
	} {
		objs := objects(t, testEnv(func(e *config.Environment) { e.Workloads.RabbitMQ.Resources.Limits.Memory = config.Q(c.limit) }))
		conf := iniSettings(configMapData(t, objs, "rabbitmq-config", "10-defaults.conf"))
		var watermarks []string
		for k, v := range conf {
			if strings.HasPrefix(k, "vm_memory_high_watermark") {
				watermarks = append(watermarks, k+" = "+strings.Join(v, ","))
			}
		}
		if want := "vm_memory_high_watermark.absolute = " + c.want; fmt.Sprint(watermarks) != "["+want+"]" {
			t.Errorf("limit %s: %v, want [%s]", c.limit, watermarks, want)
		}
	}
}

// TestPgAdminListensOnIPv4: pgAdmin's entrypoint listens on [::] unless
// told otherwise, which fails on nodes without IPv6.
func TestPgAdminListensOnIPv4(t *testing.T) {
	objs := objects(t, testEnv(func(e *config.Environment) { on := true; e.Workloads.PgAdmin.Enabled = &on }))
	env := map[string]string{}
	for _, v := range container(t, objs, "Deployment/pgadmin", "pgadmin").Env {
		env[v.Name] = v.Value
	}
	if env["PGADMIN_LISTEN_ADDRESS"] != "0.0.0.0" || env["PGADMIN_LISTEN_PORT"] != "5050" {
		t.Errorf("pgAdmin listens on %q port %q, want 0.0.0.0 port 5050", env["PGADMIN_LISTEN_ADDRESS"], env["PGADMIN_LISTEN_PORT"])
	}
}

// TestWorkerProbesDoNotLoadTheApp: the worker's probes ping it through
// the broker without importing InvenioRDM, take the broker URL (and its
// password) from the environment, accept the worker's msgpack reply, and
// wait less than the probe allows.
func TestWorkerProbesDoNotLoadTheApp(t *testing.T) {
	worker := container(t, objects(t, testEnv(nil)), "Deployment/worker", "worker")
	for name, p := range map[string]*corev1.Probe{"startup": worker.StartupProbe, "liveness": worker.LivenessProbe, "readiness": worker.ReadinessProbe} {
		if p == nil || p.Exec == nil {
			t.Fatalf("%s probe: %+v, want an exec probe", name, p)
		}
		cmd := p.Exec.Command
		if len(cmd) != 3 || cmd[0] != "python" || cmd[1] != "-c" {
			t.Fatalf("%s probe runs %q", name, cmd)
		}
		script := cmd[2]
		for _, bad := range []string{"invenio_app", "-A", "create_app", "amqp://"} {
			if strings.Contains(script, bad) {
				t.Errorf("%s probe contains %q: it must not load the application or carry the broker URL", name, bad)
			}
		}
		for _, want := range []string{`os.environ["INVENIO_CELERY_BROKER_URL"]`, `"msgpack"`, `destination=["celery@" + socket.gethostname()]`, "timeout=5)", "sys.exit(0 if"} {
			if !strings.Contains(script, want) {
				t.Errorf("%s probe lacks %s", name, want)
			}
		}
		if p.TimeoutSeconds <= 5 || p.TimeoutSeconds >= p.PeriodSeconds {
			t.Errorf("%s probe: timeout %d s, period %d s: want more than the ping's 5 s and less than the period", name, p.TimeoutSeconds, p.PeriodSeconds)
		}
		out, err := exec.Command("python3", "-c", "import ast, sys; ast.parse(sys.argv[1])", script).CombinedOutput()
		if err != nil {
			t.Errorf("%s probe is not Python: %v\n%s", name, err, out)
		}
	}
	if !hasEnv(worker, "INVENIO_CELERY_BROKER_URL") {
		t.Errorf("the worker has no INVENIO_CELERY_BROKER_URL for its probe")
	}
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// TestSiteNameIsReadAsWritten: invenio-config reads every INVENIO_* value
// with Python's ast.literal_eval (invenio_config/env.py), so a site named
// None, 0x1F or 'Lab' became None, 31 and Lab when written raw. The value
// is a Python string literal; Python reads each back as the description
// wrote it. (Checked once with invenio-config 12.0.10 itself: the same.)
func TestSiteNameIsReadAsWritten(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	for _, name := range []string{"LBNL Data Repository", "None", "0x1F", "1e3", "'Lab'", `Lab "Data" \ Repo`, "Über Daten", "tab\there", "nul\x00byte"} {
		t.Run(name, func(t *testing.T) {
			e := testEnv(func(e *config.Environment) { e.App.SiteName = name })
			v := configMapData(t, objects(t, e), "invenio-config", "INVENIO_THEME_SITENAME")
			out, err := exec.Command(py, "-c", "import ast, sys; v = ast.literal_eval(sys.argv[1]); assert type(v) is str, type(v); sys.stdout.buffer.write(v.encode())", v).CombinedOutput()
			if err != nil {
				t.Fatalf("Python cannot read %q back: %v\n%s", v, err, out)
			}
			if string(out) != name {
				t.Fatalf("Python reads %q as %q, want %q", v, out, name)
			}
		})
	}
}

// TestIngressAnnotations: the description's Ingress annotations are added
// to the generated ones, and one it sets replaces the generated value.
func TestIngressAnnotations(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra map[string]string
		want  map[string]string // keys checked
	}{
		{"none", nil, map[string]string{"nginx.ingress.kubernetes.io/proxy-request-buffering": "off", "traefik.ingress.kubernetes.io/router.entrypoints": ""}},
		{"added", map[string]string{"traefik.ingress.kubernetes.io/router.entrypoints": "websecure"},
			map[string]string{"nginx.ingress.kubernetes.io/proxy-request-buffering": "off", "traefik.ingress.kubernetes.io/router.entrypoints": "websecure"}},
		{"replaced", map[string]string{"nginx.ingress.kubernetes.io/proxy-request-buffering": "on"},
			map[string]string{"nginx.ingress.kubernetes.io/proxy-request-buffering": "on"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ing := objects(t, testEnv(func(e *config.Environment) {
				e.Ingress.Exposure = config.ExposureIngress
				e.Ingress.Annotations = c.extra
			}))["Ingress/invenio"].(*networkingv1.Ingress)
			for k, v := range c.want {
				if got := ing.Annotations[k]; got != v {
					t.Errorf("annotation %s = %q, want %q", k, got, v)
				}
			}
			if ing.Annotations["cert-manager.io/cluster-issuer"] == "" {
				t.Error("the generated annotations are gone")
			}
		})
	}
}
