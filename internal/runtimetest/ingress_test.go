//go:build runtime

package runtimetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/internal/kubelet"
)

// ingress is the ingress controller's stand-in: the community
// ingress-nginx controller renders each Ingress into an nginx server; here
// the same nginx directives are written from the Ingress object, its
// annotations and the controller's ConfigMap settings (the HelmRelease's
// controller.config), and run by Debian's nginx in a pod of the node. It
// terminates TLS with a certificate the test makes (cert-manager's part).
// An nginx.ingress.kubernetes.io annotation it does not translate is an
// error, never silently dropped.
type ingress struct {
	pod    *kubelet.Pod
	host   string
	client *http.Client // as a browser on the Internet reaches the host
	conf   string
}

// ingress-nginx's defaults for the settings the platform relies on
// (controller ConfigMap documentation, controller v1.x).
var ingressDefaults = map[string]string{
	"client-header-timeout":   "60",
	"client-body-timeout":     "60",
	"http-snippet":            "",
	"proxy-connect-timeout":   "5",
	"proxy-read-timeout":      "60",
	"proxy-send-timeout":      "60",
	"proxy-body-size":         "1m",
	"proxy-request-buffering": "on",
	"proxy-buffering":         "off",
	"ssl-redirect":            "true",
	"force-ssl-redirect":      "false",
	"keep-alive":              "75",
}

// annotation → the ConfigMap setting it overrides for one Ingress.
var ingressAnnotations = map[string]string{
	"nginx.ingress.kubernetes.io/proxy-body-size":         "proxy-body-size",
	"nginx.ingress.kubernetes.io/proxy-request-buffering": "proxy-request-buffering",
	"nginx.ingress.kubernetes.io/proxy-read-timeout":      "proxy-read-timeout",
	"nginx.ingress.kubernetes.io/proxy-send-timeout":      "proxy-send-timeout",
	"nginx.ingress.kubernetes.io/proxy-connect-timeout":   "proxy-connect-timeout",
	"nginx.ingress.kubernetes.io/proxy-buffering":         "proxy-buffering",
	"nginx.ingress.kubernetes.io/ssl-redirect":            "ssl-redirect",
	"nginx.ingress.kubernetes.io/force-ssl-redirect":      "force-ssl-redirect",
}

// controllerConfig reads controller.config of the ingress-nginx HelmRelease
// the working copy's infrastructure layer installs.
func (pe *platformEnv) controllerConfig() map[string]string {
	pe.t.Helper()
	files, _ := filepath.Glob(filepath.Join(pe.repo.Dir, "base", "infrastructure", "controllers", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			pe.t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for {
			doc, err := r.Read()
			if err != nil {
				break
			}
			var hr helmv2.HelmRelease
			if yaml.Unmarshal(doc, &hr) != nil || hr.Kind != "HelmRelease" || hr.Spec.Chart == nil || hr.Spec.Chart.Spec.Chart != "ingress-nginx" {
				continue
			}
			return pe.controllerValues(&hr)
		}
	}
	pe.t.Fatal("no ingress-nginx HelmRelease in base/infrastructure/controllers")
	return nil
}

func (pe *platformEnv) controllerValues(hr *helmv2.HelmRelease) map[string]string {
	{
		var values struct {
			Controller struct {
				Config map[string]any `json:"config"`
			} `json:"controller"`
		}
		if hr.Spec.Values != nil {
			if err := yaml.Unmarshal(hr.Spec.Values.Raw, &values); err != nil {
				pe.t.Fatal(err)
			}
		}
		out := map[string]string{}
		for k, v := range values.Controller.Config {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
}

// renderIngress writes the nginx configuration ingress-nginx would run
// for ing, with the controller settings config.
func renderIngress(ing *networkingv1.Ingress, config map[string]string, namespace string) (string, error) {
	set := map[string]string{}
	for k, v := range ingressDefaults {
		set[k] = v
	}
	for k, v := range config {
		set[k] = v
	}
	var unknown []string
	for a, v := range ing.Annotations {
		if !strings.HasPrefix(a, "nginx.ingress.kubernetes.io/") {
			continue // cert-manager's and others' annotations are not the controller's
		}
		k, ok := ingressAnnotations[a]
		if !ok {
			unknown = append(unknown, a)
			continue
		}
		set[k] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return "", fmt.Errorf("Ingress %s: the stand-in does not translate %s", ing.Name, strings.Join(unknown, ", "))
	}
	onOff := func(k string) string {
		if set[k] == "off" || set[k] == "false" {
			return "off"
		}
		return "on"
	}
	secs := func(k string) string { return strings.TrimSuffix(set[k], "s") + "s" }
	var b strings.Builder
	fmt.Fprintf(&b, `# The ingress-nginx stand-in's configuration, rendered from Ingress %s.
worker_processes 2;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 1024; }
http {
  client_body_temp_path /tmp/client-body;
  proxy_temp_path /tmp/proxy-temp;
  fastcgi_temp_path /tmp/fastcgi-temp;
  uwsgi_temp_path /tmp/uwsgi-temp;
  scgi_temp_path /tmp/scgi-temp;
  access_log /dev/stdout;
  map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }
  client_header_timeout %s;
  client_body_timeout %s;
  keepalive_timeout %s;
  # http-snippet
  %s
`, ing.Name, secs("client-header-timeout"), secs("client-body-timeout"), secs("keep-alive"), set["http-snippet"])
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		fmt.Fprintf(&b, "  server {\n    listen 8080;\n    server_name %s;\n", rule.Host)
		if set["ssl-redirect"] == "true" || set["force-ssl-redirect"] == "true" {
			b.WriteString("    location / { return 308 https://$host$request_uri; }\n  }\n")
		} else {
			b.WriteString("  }\n")
		}
		fmt.Fprintf(&b, "  server {\n    listen 8443 ssl http2;\n    server_name %s;\n    ssl_certificate /etc/ingress/tls.crt;\n    ssl_certificate_key /etc/ingress/tls.key;\n", rule.Host)
		for _, path := range rule.HTTP.Paths {
			svc := path.Backend.Service
			if svc == nil {
				return "", fmt.Errorf("Ingress %s: only Service backends are supported", ing.Name)
			}
			port := strconv.Itoa(int(svc.Port.Number))
			if svc.Port.Name != "" {
				port = "$" + svc.Port.Name
			}
			fmt.Fprintf(&b, `    location %s {
      client_max_body_size %s;
      proxy_request_buffering %s;
      proxy_buffering %s;
      proxy_http_version 1.1;
      proxy_connect_timeout %s;
      proxy_send_timeout %s;
      proxy_read_timeout %s;
      proxy_set_header Host $host;
      proxy_set_header X-Request-ID $req_id;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port 443;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Scheme https;
      proxy_set_header X-Scheme https;
      proxy_set_header Connection "";
      proxy_pass http://%s.%s.svc.cluster.local:%s;
    }
`, path.Path, set["proxy-body-size"], onOff("proxy-request-buffering"), onOff("proxy-buffering"),
				secs("proxy-connect-timeout"), secs("proxy-send-timeout"), secs("proxy-read-timeout"), svc.Name, namespace, port)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// servicePort resolves a named Service port to its number.
func (pe *platformEnv) servicePort(service, name string) string {
	for _, o := range pe.objects {
		if s, ok := o.(*corev1.Service); ok && s.Name == service {
			for _, p := range s.Spec.Ports {
				if p.Name == name {
					return strconv.Itoa(int(p.Port))
				}
			}
		}
	}
	pe.t.Fatalf("Service %s has no port %s", service, name)
	return ""
}

// startIngress runs the stand-in for the environment's Ingress.
func (pe *platformEnv) startIngress(ctx context.Context) *ingress {
	t := pe.t
	t.Helper()
	ing := pe.ingressObject()
	if ing == nil {
		t.Fatal("the environment has no Ingress")
	}
	conf, err := renderIngress(ing, pe.controllerConfig(), pe.namespace)
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Port.Name != "" {
				conf = strings.ReplaceAll(conf, ":$"+p.Backend.Service.Port.Name+";", ":"+pe.servicePort(p.Backend.Service.Name, p.Backend.Service.Port.Name)+";")
			}
		}
	}
	host := ing.Spec.Rules[0].Host
	certPEM, keyPEM, pool := selfSigned(t, host)
	pe.node.AddConfigMaps(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ingress-standin"},
		Data: map[string]string{"nginx.conf": conf, "tls.crt": string(certPEM), "tls.key": string(keyPEM)}})
	yes, no := true, false
	uid := int64(101)
	spec := corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid},
		Containers: []corev1.Container{{
			Name: "controller", Image: ingressImage.Repository + ":standin",
			Command: []string{"nginx", "-c", "/etc/ingress/nginx.conf", "-g", "daemon off;"},
			SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/ingress"}, {Name: "tmp", MountPath: "/tmp"}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8443)}},
				PeriodSeconds: 1},
		}},
		Volumes: []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "ingress-standin"}}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	pod, err := pe.node.StartPod("ingress-nginx-controller", pe.env.Ingress.ControllerLabels, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := pod.WaitReady(ctx, time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, pe.logsOf(pod))
	}
	addr := pod.IP.String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(hostport)
			return pe.node.Dial(ctx, network, net.JoinHostPort(addr, ingressPorts[port]))
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: host},
		ForceAttemptHTTP2: false,
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &ingress{pod: pod, host: host, client: client, conf: conf}
}

// ingressImage is the controller's stand-in: Debian's nginx. It listens on
// 8080 and 8443 (the real controller binds 80 and 443 with a file
// capability); the client maps the ports.
var ingressImage = &kubelet.Image{
	Repository: "registry.k8s.io/ingress-nginx/controller", Tags: []string{"standin"},
	Runs:  "nginx 1.22 from Debian 12, configured as ingress-nginx renders the Ingress (a stand-in)",
	Env:   []string{"PATH=" + stdPath},
	Users: []kubelet.User{{Name: "www-data", UID: 101, GID: 101, Home: "/nonexistent", Shell: "/bin/false"}},
	Files: []kubelet.File{{Path: "/etc/ingress", Dir: true}},
}

var ingressPorts = map[string]string{"80": "8080", "443": "8443"}

// selfSigned makes the host's certificate (cert-manager's work on a
// cluster) and a pool that trusts it.
func selfSigned(t interface{ Fatal(...any) }, host string) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}

// URL is an address on the environment's host.
func (in *ingress) URL(path string) string { return "https://" + in.host + path }
