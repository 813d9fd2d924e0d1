//go:build runtime

package runtimetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"lbl.gov/invenio-gitops/internal/kubelet"
)

// The stand-ins for every image the platform runs: the program each image
// holds, installed on this Debian machine by scripts/runtime-tools.sh.
// Where the version differs from the image's, Runs says so; a difference
// that only comes from it is never reported as a defect (docs/runtime.md).

const stdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// tools are the paths scripts/runtime-tools.sh --print-env gives.
type tools struct {
	Invenio         string // the built InvenioRDM 12.1.0: venv/ and instance/
	InvenioPrevious string // the same of 12.0.0, the release an upgrade starts from
	OpenSearchHome  string
	Bin             string // restic and the exporters built from the Go module proxy
	PgAdmin         string // pgAdmin's virtualenv (venv/) and its /pgadmin4 (pgadmin4 → the wheel's package)
}

// The InvenioRDM releases the harness installs: the one the site's image
// tags name (v12.1.0-…, the newest v12), and the first v12, which the
// upgrade proof installs first (its tag: the same with v12.0.0).
const (
	invenioRelease  = "12.1.0"
	invenioPrevious = "12.0.0"
)

// previousTag is the site's tag of the release an upgrade starts from:
// tag with its release replaced by invenioPrevious.
func previousTag(tag string) string {
	return strings.Replace(tag, "v"+invenioRelease, "v"+invenioPrevious, 1)
}

// releaseOf is the InvenioRDM release a site tag names ("v12.1.0-lbnl.1").
func releaseOf(tag string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(tag, "v"), "-")
	return v
}

func (t tools) images(siteRepository string, siteTags []string) (kubelet.Images, error) {
	var current, previous []string
	for _, tag := range siteTags {
		switch releaseOf(tag) {
		case invenioRelease:
			current = append(current, tag)
		case invenioPrevious:
			previous = append(previous, tag)
		default:
			return nil, fmt.Errorf("image %s:%s: the harness installs InvenioRDM %s and %s; the tag names another release",
				siteRepository, tag, invenioRelease, invenioPrevious)
		}
	}
	pgBin, err := filepath.Glob("/usr/lib/postgresql/*/bin")
	if err != nil || len(pgBin) != 1 {
		return nil, fmt.Errorf("exactly one Debian PostgreSQL is needed, found %v", pgBin)
	}
	pgVersion := filepath.Base(filepath.Dir(pgBin[0]))
	rabbit, err := filepath.Glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*")
	if err != nil || len(rabbit) != 1 {
		return nil, fmt.Errorf("exactly one Debian RabbitMQ is needed, found %v", rabbit)
	}
	mimeTypes, err := os.ReadFile("/etc/nginx/mime.types")
	if err != nil {
		return nil, err
	}
	uwsgiParams, err := os.ReadFile("/etc/nginx/uwsgi_params")
	if err != nil {
		return nil, err
	}
	pgVenv := filepath.Join(t.PgAdmin, "venv")
	pgWeb, err := filepath.EvalSymlinks(filepath.Join(t.PgAdmin, "pgadmin4"))
	if err != nil {
		return nil, fmt.Errorf("pgAdmin is not installed: %w", err)
	}
	is := kubelet.Images{
		"postgres": {
			Repository: "postgres", Tags: []string{"14.13"},
			Runs:       "PostgreSQL " + pgVersion + " from Debian 12 (the image has 14.13; its docker-entrypoint.sh stood in)",
			Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"postgres"}, StopSignal: "SIGINT",
			Env: []string{"PATH=" + stdPath + ":" + pgBin[0], "LANG=en_US.utf8", "PG_MAJOR=" + pgVersion,
				"PGDATA=/var/lib/postgresql/data"},
			Users:  []kubelet.User{{Name: "postgres", UID: 999, GID: 999, Home: "/var/lib/postgresql", Shell: "/bin/bash"}},
			Groups: []kubelet.Group{{Name: "postgres", GID: 999}},
			Files: []kubelet.File{
				{Path: "/usr/local/bin/docker-entrypoint.sh", Content: postgresEntrypoint, Mode: 0o755},
				{Path: "/docker-entrypoint-initdb.d", Dir: true},
				{Path: "/var/lib/postgresql/data", Dir: true, Mode: 0o1777},
				{Path: "/var/run/postgresql", Dir: true, Mode: 0o3777},
			},
		},
		"redis": {
			Repository: "redis", Tags: []string{"7.4.2"}, Runs: "Redis 7.0 from Debian 12 (the image has 7.4.2)",
			Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"redis-server"}, WorkingDir: "/data",
			Env:    []string{"PATH=" + stdPath},
			Users:  []kubelet.User{{Name: "redis", UID: 999, GID: 999, Home: "/home/redis", Shell: "/usr/sbin/nologin"}},
			Groups: []kubelet.Group{{Name: "redis", GID: 999}},
			Files: []kubelet.File{
				{Path: "/usr/local/bin/docker-entrypoint.sh", Content: redisEntrypoint, Mode: 0o755},
				{Path: "/data", Dir: true},
			},
		},
		"rabbitmq": {
			Repository: "rabbitmq", Tags: []string{"3.13.7-management"},
			Runs:       "RabbitMQ " + strings.TrimPrefix(filepath.Base(rabbit[0]), "rabbitmq_server-") + " on Erlang from Debian 12 (the image has 3.13.7)",
			Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"rabbitmq-server"},
			Env: []string{"PATH=/opt/rabbitmq/sbin:" + stdPath, "RABBITMQ_DATA_DIR=/var/lib/rabbitmq", "RABBITMQ_HOME=/opt/rabbitmq",
				"RABBITMQ_LOGS=-", "HOME=/var/lib/rabbitmq", "LANG=C.UTF-8", "LANGUAGE=C.UTF-8", "LC_ALL=C.UTF-8"},
			Users:  []kubelet.User{{Name: "rabbitmq", UID: 999, GID: 999, Home: "/var/lib/rabbitmq", Shell: "/usr/sbin/nologin"}},
			Groups: []kubelet.Group{{Name: "rabbitmq", GID: 999}},
			Layers: []kubelet.Layer{{Target: "/opt/rabbitmq", Source: rabbit[0]}},
			Files: []kubelet.File{
				{Path: "/usr/local/bin/docker-entrypoint.sh", Content: rabbitmqEntrypoint, Mode: 0o755},
				{Path: "/etc/rabbitmq", Dir: true, Opaque: true},
				// The -management image enables both plugins.
				{Path: "/etc/rabbitmq/enabled_plugins", Content: "[rabbitmq_management,rabbitmq_prometheus].\n"},
				{Path: "/etc/rabbitmq/conf.d", Dir: true},
				{Path: "/var/lib/rabbitmq", Dir: true},
				{Path: "/var/log/rabbitmq", Dir: true},
			},
		},
		"opensearchproject/opensearch": {
			Repository: "opensearchproject/opensearch", Tags: []string{"2.17.1"},
			Runs:       "OpenSearch 2.17.1 from Maven Central on Debian's Java 17 (scripts/runtime-tools/opensearch.sh: 17 of the 20 modules, a stand-in for the disabled security plugin)",
			Entrypoint: []string{"./opensearch-docker-entrypoint.sh"}, Cmd: []string{"opensearch"}, WorkingDir: "/usr/share/opensearch",
			Env: []string{"PATH=" + stdPath + ":/usr/share/opensearch/jdk/bin:/usr/share/opensearch/bin", "JAVA_HOME=/usr/share/opensearch/jdk",
				"OPENSEARCH_CONTAINER=true"},
			Users:  []kubelet.User{{Name: "opensearch", UID: 1000, GID: 1000, Home: "/usr/share/opensearch", Shell: "/bin/bash"}},
			Groups: []kubelet.Group{{Name: "opensearch", GID: 1000}},
			Layers: []kubelet.Layer{{Target: "/usr/share/opensearch", Source: t.OpenSearchHome}},
		},
		"nginxinc/nginx-unprivileged": {
			Repository: "nginxinc/nginx-unprivileged", Tags: []string{"1.27.4-alpine"}, Runs: "nginx 1.22 from Debian 12 (the image has 1.27.4)",
			Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"}, StopSignal: "SIGQUIT",
			Env:    []string{"PATH=" + stdPath, "NGINX_VERSION=1.27.4"},
			Users:  []kubelet.User{{Name: "nginx", UID: 101, GID: 101, Home: "/var/cache/nginx", Shell: "/sbin/nologin"}},
			Groups: []kubelet.Group{{Name: "nginx", GID: 101}},
			Files: []kubelet.File{
				{Path: "/docker-entrypoint.sh", Content: nginxEntrypoint, Mode: 0o755},
				{Path: "/docker-entrypoint.d", Dir: true},
				{Path: "/etc/nginx", Dir: true, Opaque: true},
				{Path: "/etc/nginx/nginx.conf", Content: nginxUnprivilegedConf},
				{Path: "/etc/nginx/mime.types", Content: string(mimeTypes)},
				{Path: "/etc/nginx/uwsgi_params", Content: string(uwsgiParams)},
				{Path: "/etc/nginx/conf.d", Dir: true},
				{Path: "/var/log/nginx", Dir: true},
				{Path: "/var/log/nginx/access.log", Symlink: "/dev/stdout"},
				{Path: "/var/log/nginx/error.log", Symlink: "/dev/stderr"},
				{Path: "/var/cache/nginx", Dir: true},
			},
		},
		"restic/restic": {
			Repository: "restic/restic", Tags: []string{"0.18.0"}, Runs: "restic 0.18.0 built from the Go module proxy",
			Entrypoint: []string{"/usr/bin/restic"}, Env: []string{"PATH=" + stdPath},
			Layers: []kubelet.Layer{{Target: "/opt/runtime-tools", Source: t.Bin}},
			Files:  []kubelet.File{{Path: "/usr/bin/restic", Symlink: "/opt/runtime-tools/restic"}},
		},
		"quay.io/prometheuscommunity/postgres-exporter": {
			Repository: "quay.io/prometheuscommunity/postgres-exporter", Tags: []string{"v0.17.1"},
			Runs:       "postgres_exporter v0.17.1 built from the Go module proxy",
			Entrypoint: []string{"/bin/postgres_exporter"}, Env: []string{"PATH=" + stdPath},
			Users:  []kubelet.User{{Name: "nobody", UID: 65534, GID: 65534, Home: "/home", Shell: "/bin/false"}},
			Layers: []kubelet.Layer{{Target: "/opt/runtime-tools", Source: t.Bin}},
			Files:  []kubelet.File{{Path: "/bin/postgres_exporter", Symlink: "/opt/runtime-tools/postgres_exporter"}},
		},
		"oliver006/redis_exporter": {
			Repository: "oliver006/redis_exporter", Tags: []string{"v1.67.0"},
			Runs:       "redis_exporter 1.45 from Debian 12 (v1.67.0 is not served by the Go module proxy here)",
			Entrypoint: []string{"/redis_exporter"}, Env: []string{"PATH=" + stdPath},
			Files: []kubelet.File{{Path: "/redis_exporter", Symlink: "/usr/bin/prometheus-redis-exporter"}},
		},
		"dpage/pgadmin4": {
			Repository: "dpage/pgadmin4", Tags: []string{"8.14"},
			Runs:       "pgAdmin 8.14 from PyPI under gunicorn 22.0.0 on Debian's Python 3.11 (the image: Python 3.12 on Alpine)",
			Entrypoint: []string{"/entrypoint.sh"}, WorkingDir: "/pgadmin4",
			Env:    []string{"PATH=" + stdPath, "PYTHONPATH=/pgadmin4"},
			Users:  []kubelet.User{{Name: "pgadmin", UID: 5050, GID: 0, Home: "/home/pgadmin", Shell: "/sbin/nologin"}},
			Layers: []kubelet.Layer{{Target: pgVenv, Source: pgVenv}, {Target: "/venv", Source: pgVenv}, {Target: "/pgadmin4", Source: pgWeb}},
			Files: []kubelet.File{
				{Path: "/entrypoint.sh", Content: pgadminEntrypoint, Mode: 0o755},
				{Path: "/var/lib/pgadmin", Dir: true},
				{Path: "/run/pgadmin", Dir: true},
			},
		},
		"nginx/nginx-prometheus-exporter": {
			Repository: "nginx/nginx-prometheus-exporter", Tags: []string{"1.4.1"},
			Runs:       "nginx-prometheus-exporter 1.4.1 built from the Go module proxy",
			Entrypoint: []string{"/usr/bin/nginx-prometheus-exporter"}, Env: []string{"PATH=" + stdPath},
			Layers: []kubelet.Layer{{Target: "/opt/runtime-tools", Source: t.Bin}},
			Files:  []kubelet.File{{Path: "/usr/bin/nginx-prometheus-exporter", Symlink: "/opt/runtime-tools/nginx-prometheus-exporter"}},
		},
	}
	if len(current) > 0 {
		is[siteRepository] = siteImage(siteRepository, current, invenioRelease, t.Invenio)
	}
	for _, tag := range previous {
		is[siteRepository+":"+tag] = siteImage(siteRepository, []string{tag}, invenioPrevious, t.InvenioPrevious)
	}
	return is, nil
}

// siteImage stands in for the site's image of an InvenioRDM release built
// into dir (venv/ and instance/ by scripts/runtime-tools.sh).
func siteImage(repository string, tags []string, release, dir string) *kubelet.Image {
	venv := filepath.Join(dir, "venv")
	return &kubelet.Image{
		Repository: repository, Tags: tags,
		Runs: "InvenioRDM " + release + " (invenio-app-rdm, uWSGI, Celery from PyPI) on Debian's Python 3.11, a minimal v12 instance",
		// cookiecutter-invenio-rdm v12's Dockerfile on
		// inveniosoftware/almalinux:1 (docker-invenio).
		Entrypoint: []string{"bash", "-c"},
		WorkingDir: "/opt/invenio/src",
		Env: []string{"PATH=" + venv + "/bin:" + stdPath, "LANG=en_US.UTF-8", "LANGUAGE=en_US:en", "LC_ALL=en_US.UTF-8",
			"WORKING_DIR=/opt/invenio", "INVENIO_INSTANCE_PATH=/opt/invenio/var/instance"},
		Users:  []kubelet.User{{Name: "invenio", UID: 1000, GID: 0, Home: "/opt/invenio", Shell: "/bin/bash"}},
		Layers: []kubelet.Layer{{Target: venv, Source: venv}, {Target: "/opt/invenio/var/instance", Source: filepath.Join(dir, "instance")}},
		Files:  []kubelet.File{{Path: "/opt/invenio/src", Dir: true}},
	}
}

// The images' entrypoints, as far as a pod of this platform meets them
// (written here from the docker-library and nginx repositories' scripts;
// what a pod of ours never reaches, such as starting as root, is left out).
const (
	// docker-library/postgres docker-entrypoint.sh: on an empty PGDATA,
	// initdb with POSTGRES_USER as superuser and POSTGRES_PASSWORD, "host
	// all all all scram-sha-256" appended to pg_hba.conf, the database
	// POSTGRES_DB created by a server listening on no TCP address, then the
	// real server. The image's postgresql.conf.sample has
	// listen_addresses = '*'.
	postgresEntrypoint = `#!/usr/bin/env bash
set -Eeo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" = 'postgres' ]; then
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}" "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
      echo >&2 'Error: Database is uninitialized and superuser password is not specified.'; exit 1
    fi
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-}
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
      psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
    fi
    for f in /docker-entrypoint-initdb.d/*; do [ -e "$f" ] || continue; echo "$0: ignoring $f"; done
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
    echo; echo 'PostgreSQL init process complete; ready for start up.'; echo
  else
    echo; echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'; echo
  fi
fi
exec "$@"
`
	// docker-library/redis docker-entrypoint.sh: as a non-root user it
	// only sets the umask and runs the command.
	redisEntrypoint = `#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
um="$(umask)"
if [ "$um" = '0022' ]; then umask 0077; fi
exec "$@"
`
	// docker-library/rabbitmq 3.13 docker-entrypoint.sh: refuses the
	// deprecated RABBITMQ_* variables, then runs the command.
	rabbitmqEntrypoint = `#!/bin/bash
set -euo pipefail
for v in RABBITMQ_DEFAULT_PASS_FILE RABBITMQ_DEFAULT_USER_FILE RABBITMQ_MANAGEMENT_SSL_CACERTFILE RABBITMQ_SSL_CACERTFILE RABBITMQ_VM_MEMORY_HIGH_WATERMARK; do
  if [ -n "${!v:-}" ]; then echo >&2 "error: $v is set but deprecated"; exit 1; fi
done
exec "$@"
`
	// nginxinc/docker-nginx-unprivileged docker-entrypoint.sh: runs the
	// /docker-entrypoint.d scripts (none here: the image's listen-on-ipv6,
	// envsubst and worker scripts change nothing when conf.d is a
	// read-only ConfigMap and there are no templates), then nginx.
	nginxEntrypoint = `#!/bin/sh
set -e
entrypoint_log() { if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then echo "$@"; fi; }
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  entrypoint_log "$0: Configuration complete; ready for start up"
fi
exec "$@"
`
	// pgadmin-org/pgadmin4 8.14 pkg/docker/entrypoint.sh: the settings file
	// written only when empty (the platform mounts its own), the
	// configuration database set up on first start from
	// PGADMIN_DEFAULT_EMAIL and _PASSWORD, postfix (switched off by the
	// platform), then gunicorn on PGADMIN_LISTEN_ADDRESS, [::] by default.
	pgadminEntrypoint = `#!/usr/bin/env bash
export CONFIG_DISTRO_FILE_PATH="${PGADMIN_CUSTOM_CONFIG_DISTRO_FILE:-/pgadmin4/config_distro.py}"
if [ "$(wc -m < "${CONFIG_DISTRO_FILE_PATH}")" = "0" ]; then
  printf "CA_FILE = '/etc/ssl/certs/ca-certificates.crt'\nLOG_FILE = '/dev/null'\nHELP_PATH = '../../docs'\n" > "${CONFIG_DISTRO_FILE_PATH}"
  for var in $(env | grep "^PGADMIN_CONFIG_" | cut -d "=" -f 1); do
    echo ${var#PGADMIN_CONFIG_} = $(eval "echo \$$var") >> "${CONFIG_DISTRO_FILE_PATH}"
  done
fi
if [ ! -f /var/lib/pgadmin/pgadmin4.db ]; then
  if [ -z "${PGADMIN_DEFAULT_EMAIL}" ] || [ -z "${PGADMIN_DEFAULT_PASSWORD}" ]; then
    echo 'You need to define the PGADMIN_DEFAULT_EMAIL and PGADMIN_DEFAULT_PASSWORD or PGADMIN_DEFAULT_PASSWORD_FILE environment variables.'
    exit 1
  fi
  is_valid_email=$(cd /pgadmin4/pgadmin/utils && /venv/bin/python3 -c "from validation_utils import validate_email; print(validate_email('${PGADMIN_DEFAULT_EMAIL}', {'CHECK_EMAIL_DELIVERABILITY': False, 'ALLOW_SPECIAL_EMAIL_DOMAINS': []}))")
  if echo "${is_valid_email}" | grep "False" > /dev/null; then
    echo "'${PGADMIN_DEFAULT_EMAIL}' does not appear to be a valid email address."
    exit 1
  fi
  cd /pgadmin4
  export PGADMIN_SETUP_EMAIL="${PGADMIN_DEFAULT_EMAIL}" PGADMIN_SETUP_PASSWORD="${PGADMIN_DEFAULT_PASSWORD}"
  /venv/bin/python3 run_pgadmin.py
fi
if [ -z "${PGADMIN_DISABLE_POSTFIX}" ]; then
  echo "postfix is not part of the stand-in: set PGADMIN_DISABLE_POSTFIX"; exit 1
fi
TIMEOUT=$(cd /pgadmin4 && /venv/bin/python3 -c 'import config; print(config.SESSION_EXPIRATION_TIME * 60 * 60 * 24)')
BIND_ADDRESS="${PGADMIN_LISTEN_ADDRESS:-[::]}:${PGADMIN_LISTEN_PORT:-80}"
exec /venv/bin/gunicorn --limit-request-line "${GUNICORN_LIMIT_REQUEST_LINE:-8190}" --timeout "${TIMEOUT}" --bind "${BIND_ADDRESS}" -w 1 --threads "${GUNICORN_THREADS:-25}" --access-logfile "${GUNICORN_ACCESS_LOGFILE:--}" -c gunicorn_config.py run_pgadmin:app
`
	// The nginx.org package's nginx.conf as nginx-unprivileged changes it
	// (no user directive, the pid and temporary files in /tmp).
	nginxUnprivilegedConf = `worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /tmp/nginx.pid;


events {
    worker_connections  1024;
}


http {
    proxy_temp_path /tmp/proxy_temp;
    client_body_temp_path /tmp/client_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;

    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
`
)
