package invenio

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
)

// Optional parts: each is a kustomize Component that an environment
// switches on. None of them changes an object of another layer, so each
// layer still builds on its own.

func (x env) samlOn() bool { return x.e.Auth.Mode == "saml" }

// dashboards is OpenSearch Dashboards, for operators (port-forward only).
func (x env) dashboards() *component.Component {
	w := x.e.Workloads.Dashboards
	c := &component.Component{Name: Dashboards, Role: "search-ui", Layer: component.LayerApp, Optional: true, HasPods: true,
		Version: string(x.e.Images.Dashboards.Tag),
		Serves:  []component.Port{{Name: "http", Port: 5601}},
		Calls:   []component.Call{{To: OpenSearch, Port: "http"}}}
	conf := x.configMap(c, "dashboards-config", map[string]string{"opensearch_dashboards.yml": strings.Join([]string{
		"server.host: 0.0.0.0",
		"server.port: 5601",
		"opensearch.hosts: [\"http://opensearch:9200\"]",
		"",
	}, "\n")})
	image := x.e.Images.Dashboards.Ref()
	// The security plugin cannot talk to a cluster without it, and the
	// image's own switch (DISABLE_SECURITY_DASHBOARDS_PLUGIN) rewrites
	// files at start, which a read-only root forbids: copy the plugins
	// without it instead.
	plugins := component.Container("plugins", image, w.Resources)
	plugins.Command = []string{"sh", "-c", "cp -R /usr/share/opensearch-dashboards/plugins/. /plugins/ && rm -rf /plugins/securityDashboards"}
	plugins.VolumeMounts = []corev1.VolumeMount{component.Mount("plugins", "/plugins")}
	ctr := component.Container("dashboards", image, w.Resources)
	ctr.Ports = component.Ports(c)
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.Mount("plugins", "/usr/share/opensearch-dashboards/plugins"),
		{Name: "config", MountPath: "/usr/share/opensearch-dashboards/config/opensearch_dashboards.yml", SubPath: "opensearch_dashboards.yml", ReadOnly: true},
		component.Mount("data", "/usr/share/opensearch-dashboards/data"),
		component.Mount("tmp", "/tmp"),
	}
	ctr.StartupProbe = component.HTTPProbe(slowStart, "/api/status", "http")
	ctr.LivenessProbe = component.HTTPProbe(liveness, "/api/status", "http")
	ctr.ReadinessProbe = component.HTTPProbe(readiness, "/api/status", "http")
	spec := component.PodSpec(c, component.User{UID: 1000, GID: 1000}, []corev1.Container{ctr}, []corev1.Volume{
		component.Scratch("plugins", "512Mi"),
		component.ConfigMapVolume("config", conf.Name, 0o444),
		component.Scratch("data", "256Mi"),
		component.Scratch("tmp", "256Mi"),
	})
	spec.InitContainers = []corev1.Container{plugins}
	dep := x.deployment(c, w.Replicas, x.template(c, spec, map[string]string{"checksum/config": checksum(conf)}), false)
	c.Objects = []component.Object{conf, dep}
	return c
}

// pgadmin is the database console for developers (dev only, port-forward).
func (x env) pgadmin() *component.Component {
	w := x.e.Workloads.PgAdmin
	c := &component.Component{Name: PgAdmin, Role: "database-ui", Layer: component.LayerApp, Optional: true, HasPods: true,
		Version: string(x.e.Images.PgAdmin.Tag),
		Serves:  []component.Port{{Name: "http", Port: 5050}},
		Calls:   []component.Call{{To: PostgreSQL, Port: "postgresql"}}}
	// pgAdmin would write this file at start (impossible on a read-only
	// root) and otherwise log to a file it cannot create.
	conf := x.configMap(c, "pgadmin-config", map[string]string{"config_distro.py": strings.Join([]string{
		"# Generated: pgAdmin settings (read-only root filesystem).",
		"LOG_FILE = '/dev/null'",
		"SERVER_MODE = True",
		"UPGRADE_CHECK_ENABLED = False",
		"",
	}, "\n")})
	ctr := component.Container("pgadmin", x.e.Images.PgAdmin.Ref(), w.Resources)
	// The image's python carries the NET_BIND_SERVICE file capability and
	// cannot start without it in the bounding set (pgadmin4 #5653).
	ctr.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
	ctr.Ports = component.Ports(c)
	ctr.Env = []corev1.EnvVar{
		component.Env("PGADMIN_DEFAULT_EMAIL", fmt.Sprintf("pgadmin@%s", x.e.Host)),
		component.SecretEnv("PGADMIN_DEFAULT_PASSWORD", string(x.e.Secrets.PgAdmin), PasswordKey),
		// The entrypoint's default is [::], which fails on nodes without IPv6.
		component.Env("PGADMIN_LISTEN_ADDRESS", "0.0.0.0"),
		component.Env("PGADMIN_LISTEN_PORT", "5050"),
		component.Env("PGADMIN_DISABLE_POSTFIX", "true"),
		component.Env("PGADMIN_CUSTOM_CONFIG_DISTRO_FILE", "/etc/pgadmin-distro/config_distro.py"),
	}
	ctr.VolumeMounts = []corev1.VolumeMount{
		component.Mount("data", "/var/lib/pgadmin"),
		component.ReadOnlyMount("config", "/etc/pgadmin-distro"),
		component.Mount("tmp", "/tmp"),
	}
	ctr.StartupProbe = component.HTTPProbe(fastStart, "/misc/ping", "http")
	ctr.LivenessProbe = component.HTTPProbe(liveness, "/misc/ping", "http")
	ctr.ReadinessProbe = component.HTTPProbe(readiness, "/misc/ping", "http")
	claim := "pgadmin-data"
	spec := component.PodSpec(c, component.User{UID: 5050, GID: 5050}, []corev1.Container{ctr}, []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}},
		component.ConfigMapVolume("config", conf.Name, 0o444),
		component.Scratch("tmp", "256Mi"),
	})
	pvc := x.claim(x.meta.ObjectMeta(c, claim), corev1.ReadWriteOnce, string(x.e.Storage.ReadWriteOnceClass), x.e.Storage.PgAdmin)
	// One writer of a ReadWriteOnce volume: replace, never roll.
	dep := x.deployment(c, w.Replicas, x.template(c, spec, map[string]string{"checksum/config": checksum(conf)}), true)
	c.Objects = []component.Object{conf, &pvc, dep}
	return c
}

// SAML secret keys: the service provider's key pair.
const (
	SAMLKeyKey  = "sp.key"
	SAMLCertKey = "sp.crt"
)

const (
	samlConfigDir = "/etc/invenio/saml"
	samlSPDir     = "/etc/invenio/saml-sp"
)

// saml is SAML2 single sign-on through invenio-saml: its configuration
// (a Python fragment, because acs_handler is a function call) and, on the
// web UI, the mounts and the egress to the identity provider.
func (x env) saml() *component.Component {
	c := &component.Component{Name: SAML, Role: "auth", Layer: component.LayerApp, Optional: true}
	c.Objects = []component.Object{x.samlConfigMap(c)}
	return c
}

func (x env) samlConfigMap(c *component.Component) *corev1.ConfigMap {
	s := x.e.Auth.SAML
	host := string(x.e.Host)
	entity := s.EntityID
	if entity == "" {
		entity = fmt.Sprintf("https://%s/saml/metadata/%s", host, s.IdP)
	}
	py := fmt.Sprintf(`# Generated: SAML2 login through invenio-saml. The image's invenio.cfg
# executes this file (see docs/saml.md).
from invenio_saml.handlers import acs_handler_factory

SSO_SAML_IDPS = {
    %[1]q: {
        "title": %[2]q,
        "description": %[2]q,
        "icon": "",
        "settings_url": %[3]q,
        "sp_cert_file": %[4]q,
        "sp_key_file": %[5]q,
        "settings": {
            "sp": {
                "entityId": %[6]q,
                "assertionConsumerService": {"url": "https://%[7]s/saml/acs/%[1]s"},
                "singleLogoutService": {"url": "https://%[7]s/saml/sls/%[1]s"},
            },
            "security": {
                "authnRequestsSigned": True,
                "wantAssertionsSigned": True,
                "wantMessagesSigned": False,
                "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            },
        },
        "mappings": {
            "email": %[8]q,
            "name": %[9]q,
            "surname": %[10]q,
            "external_id": %[11]q,
        },
        "acs_handler": acs_handler_factory(%[1]q),
        "auto_confirm": True,
    },
}
`, string(s.IdP), s.Title, s.MetadataURL, samlSPDir+"/"+SAMLCertKey, samlSPDir+"/"+SAMLKeyKey, entity, host,
		s.EmailAttribute, s.NameAttribute, s.SurnameAttribute, s.ExternalIDAttribute)
	return x.configMap(c, "invenio-saml", map[string]string{"saml.cfg": py})
}

// samlMounts gives the web UI the SAML fragment, the SP key pair and a way
// out to the identity provider. They go in front of the lists, where a
// kustomize merge patch puts what it adds.
func (x env) samlMounts(c *component.Component, ctr *corev1.Container, volumes *[]corev1.Volume) {
	ctr.Env = append([]corev1.EnvVar{component.Env("INVENIO_SAML_CONFIG_FILE", samlConfigDir+"/saml.cfg")}, ctr.Env...)
	ctr.VolumeMounts = append([]corev1.VolumeMount{
		component.ReadOnlyMount("saml-config", samlConfigDir),
		component.ReadOnlyMount("saml-sp", samlSPDir)}, ctr.VolumeMounts...)
	*volumes = append([]corev1.Volume{
		component.ConfigMapVolume("saml-config", "invenio-saml", 0o444),
		component.SecretVolume("saml-sp", string(x.e.Secrets.SAML), SAMLKeyKey, SAMLCertKey)}, *volumes...)
	var cidrs []string
	for _, n := range x.e.Auth.SAML.EgressCIDRs {
		cidrs = append(cidrs, string(n))
	}
	c.External = append(c.External, component.External{Why: "SAML identity provider (HTTPS)", CIDRs: cidrs, Port: 443})
}
