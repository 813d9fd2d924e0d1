package sealing

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Controller is the HTTP API of a sealed-secrets controller.
type Controller interface {
	// CertPEM is GET /v1/cert.pem: the certificate of the current sealing key.
	CertPEM(ctx context.Context) ([]byte, error)
	// Rotate is POST /v1/rotate: a SealedSecret (JSON) re-encrypted with
	// the current key.
	Rotate(ctx context.Context, sealedSecret []byte) ([]byte, error)
}

// RESTConfig is the client configuration of kubeconfig (a path; empty:
// $KUBECONFIG, then ~/.kube/config) and its context (empty: the current
// one), as kubectl reads them.
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return cfg, nil
}

// apiController reaches the controller's Service through the API server's
// service proxy, as kubeseal does (no kubectl, no port-forward):
// /api/v1/namespaces/<ns>/services/http:<name>:<port>/proxy/v1/....
type apiController struct {
	client          corev1client.CoreV1Interface
	namespace, name string
}

// NewController is the controller whose Service is namespace/name, through
// the API server of cfg.
func NewController(cfg *rest.Config, namespace, name string) (Controller, error) {
	c := rest.CopyConfig(cfg)
	c.AcceptContentTypes = "application/x-pem-file, application/json, */*"
	client, err := corev1client.NewForConfig(c)
	if err != nil {
		return nil, err
	}
	return &apiController{client: client, namespace: namespace, name: name}, nil
}

// port is the name (or number) of the Service's first port: the proxy
// path must name it (the sealed-secrets chart calls it "http").
func (c *apiController) port(ctx context.Context) (string, error) {
	svc, err := c.client.Services(c.namespace).Get(ctx, c.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("cannot find the sealed-secrets controller's Service %s/%s (sealing.controllerName and sealing.controllerNamespace in the description): %v", c.namespace, c.name, err)
	}
	if len(svc.Spec.Ports) == 0 {
		return "", fmt.Errorf("the Service %s/%s has no port", c.namespace, c.name)
	}
	if p := svc.Spec.Ports[0]; p.Name != "" {
		return p.Name, nil
	}
	return strconv.Itoa(int(svc.Spec.Ports[0].Port)), nil
}

func (c *apiController) CertPEM(ctx context.Context) ([]byte, error) {
	port, err := c.port(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.client.Services(c.namespace).ProxyGet("http", c.name, port, "/v1/cert.pem", nil).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch the certificate from %s/%s: %v", c.namespace, c.name, err)
	}
	return b, nil
}

func (c *apiController) Rotate(ctx context.Context, sealedSecret []byte) ([]byte, error) {
	port, err := c.port(ctx)
	if err != nil {
		return nil, err
	}
	b, err := c.client.RESTClient().Post().
		Namespace(c.namespace).
		Resource("services").
		SubResource("proxy").
		Name(utilnet.JoinSchemeNamePort("http", c.name, port)).
		Suffix("/v1/rotate").
		SetHeader("Content-Type", "application/json").
		Body(sealedSecret).
		DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("the controller %s/%s could not re-encrypt: %v", c.namespace, c.name, err)
	}
	return b, nil
}

// FetchCert fetches the controller's certificate and checks it as
// Certificate does; it returns the certificate as stored in
// sealing-cert.pem and its key.
func FetchCert(ctx context.Context, c Controller, now time.Time) ([]byte, *rsa.PublicKey, error) {
	b, err := c.CertPEM(ctx)
	if err != nil {
		return nil, nil, err
	}
	pub, err := ParseCertificate(b, now)
	if err != nil {
		return nil, nil, fmt.Errorf("the controller's certificate: %w", err)
	}
	return normalizeCert(b), pub, nil
}

// Reencrypt has the controller re-encrypt every value of ss with its
// current key (after a key renewal), through /v1/rotate as kubeseal
// --re-encrypt does. Only spec.encryptedData changes: the result keeps ss's
// metadata and template, whatever the controller returns besides.
func Reencrypt(ctx context.Context, c Controller, ss *ssv1alpha1.SealedSecret) (*ssv1alpha1.SealedSecret, error) {
	if ss.Spec.Data != nil {
		return nil, fmt.Errorf("%s/%s uses the deprecated spec.data form", ss.Namespace, ss.Name)
	}
	if len(ss.Spec.EncryptedData) == 0 {
		return nil, errors.New(ss.Namespace + "/" + ss.Name + ": nothing to re-encrypt")
	}
	in := ss.DeepCopy()
	in.APIVersion = ssv1alpha1.SchemeGroupVersion.String()
	in.Kind = "SealedSecret"
	in.Status = nil
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	resp, err := c.Rotate(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", ss.Namespace, ss.Name, err)
	}
	var got ssv1alpha1.SealedSecret
	if err := json.Unmarshal(resp, &got); err != nil {
		return nil, fmt.Errorf("%s/%s: the controller's answer is not a SealedSecret: %v", ss.Namespace, ss.Name, err)
	}
	if have, want := slices.Sorted(maps.Keys(got.Spec.EncryptedData)), slices.Sorted(maps.Keys(ss.Spec.EncryptedData)); strings.Join(have, ",") != strings.Join(want, ",") {
		return nil, fmt.Errorf("%s/%s: the controller returned the keys %v, not %v", ss.Namespace, ss.Name, have, want)
	}
	for k, v := range got.Spec.EncryptedData {
		if _, err := base64.StdEncoding.DecodeString(v); err != nil || v == "" {
			return nil, fmt.Errorf("%s/%s: the controller returned a value of %s that is not base64", ss.Namespace, ss.Name, k)
		}
	}
	out := ss.DeepCopy()
	out.Spec.EncryptedData = got.Spec.EncryptedData
	return out, nil
}
