// Package sealingtest gives tests a real sealed-secrets key pair and a fake
// cluster: an API server whose service proxy leads to a sealed-secrets
// controller holding those keys (GET /v1/cert.pem, POST /v1/rotate,
// implemented with the sealed-secrets module's own unseal and seal code).
package sealingtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// Bits is the size of test keys: big enough for the sealing package,
// small enough to be quick.
const Bits = 2048

// KeyPair is a controller's sealing key and its certificate.
type KeyPair struct {
	Key     *rsa.PrivateKey
	CertPEM []byte
}

// NewKeyPair makes a key pair whose certificate is valid from notBefore to
// notAfter, as the controller makes them (crypto.SignKeyWithNotBefore).
func NewKeyPair(t testing.TB, notBefore, notAfter time.Time) KeyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := crypto.SignKeyWithNotBefore(rand.Reader, key, notBefore, notAfter.Sub(notBefore), "sealed-secret")
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
}

// ValidKeyPair is a key pair valid from an hour ago for ten years.
func ValidKeyPair(t testing.TB) KeyPair {
	now := time.Now()
	return NewKeyPair(t, now.Add(-time.Hour), now.Add(10*365*24*time.Hour))
}

// CertPEM is a self-signed certificate of any public key (e.g. ECDSA),
// valid from notBefore to notAfter.
func CertPEM(t testing.TB, pub, priv any, notBefore, notAfter time.Time) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Keys is the map sealed-secrets' unseal code takes.
func Keys(t testing.TB, pairs ...KeyPair) map[string]*rsa.PrivateKey {
	m := map[string]*rsa.PrivateKey{}
	for _, p := range pairs {
		f, err := crypto.PublicKeyFingerprint(&p.Key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		m[f] = p.Key
	}
	return m
}

// Unseal decrypts ss as the controller would, with sealed-secrets' own
// code ((*SealedSecret).Unseal), and returns the Secret it would create.
func Unseal(t testing.TB, ss *ssv1alpha1.SealedSecret, pairs ...KeyPair) (*corev1.Secret, error) {
	return ss.DeepCopy().Unseal(scheme.Codecs, Keys(t, pairs...))
}

// Cluster is a fake API server in front of a fake sealed-secrets
// controller in Namespace/Name whose Service's port is named "http".
type Cluster struct {
	Namespace, Name string
	Server          *httptest.Server

	mu       sync.Mutex
	keys     []KeyPair // the last is the current key
	requests []string
	t        testing.TB
}

// NewCluster starts a fake cluster whose controller has keys (the last is
// the current one). It stops with the test.
func NewCluster(t testing.TB, namespace, name string, keys ...KeyPair) *Cluster {
	c := &Cluster{Namespace: namespace, Name: name, keys: keys, t: t}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Server.Close)
	return c
}

// Renew adds a new current key, as the controller's key renewal does
// (old keys still decrypt).
func (c *Cluster) Renew(k KeyPair) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, k)
}

// Current is the controller's current key pair.
func (c *Cluster) Current() KeyPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[len(c.keys)-1]
}

// All is every key pair the controller holds.
func (c *Cluster) All() []KeyPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]KeyPair(nil), c.keys...)
}

// Requests are the "METHOD path" the API server received.
func (c *Cluster) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requests...)
}

// Kubeconfig writes a kubeconfig for the cluster and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: %s
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
users:
- name: fake
  user:
    token: test-token
`, c.Server.URL)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (c *Cluster) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests = append(c.requests, r.Method+" "+r.URL.Path)
	keys := append([]KeyPair(nil), c.keys...)
	c.mu.Unlock()
	svc := "/api/v1/namespaces/" + c.Namespace + "/services/"
	proxy := svc + "http:" + c.Name + ":http/proxy"
	switch {
	case r.Method == http.MethodGet && r.URL.Path == svc+c.Name:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: c.Namespace},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
		})
	case r.Method == http.MethodGet && r.URL.Path == proxy+"/v1/cert.pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(keys[len(keys)-1].CertPEM)
	case r.Method == http.MethodPost && r.URL.Path == proxy+"/v1/rotate":
		body, _ := io.ReadAll(r.Body)
		out, err := c.rotate(body, keys)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"%s not found","reason":"NotFound","code":404}`, r.URL.Path)
	default:
		http.NotFound(w, r)
	}
}

// rotate is what the controller's /v1/rotate does (Controller.Rotate in
// pkg/controller): unseal with every key, seal again with the current one.
func (c *Cluster) rotate(body []byte, keys []KeyPair) ([]byte, error) {
	var ss ssv1alpha1.SealedSecret
	if err := json.Unmarshal(body, &ss); err != nil {
		return nil, err
	}
	if ss.APIVersion != ssv1alpha1.SchemeGroupVersion.String() || ss.Kind != "SealedSecret" {
		return nil, fmt.Errorf("unexpected resource type %s %s", ss.APIVersion, ss.Kind)
	}
	if !equalMeta(ss.ObjectMeta, ss.Spec.Template.ObjectMeta) {
		ss.ObjectMeta.DeepCopyInto(&ss.Spec.Template.ObjectMeta)
	}
	secret, err := ss.Unseal(scheme.Codecs, Keys(c.t, keys...))
	if err != nil {
		return nil, fmt.Errorf("error decrypting secret. %v", err)
	}
	resealed, err := ssv1alpha1.NewSealedSecret(scheme.Codecs, &keys[len(keys)-1].Key.PublicKey, secret)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resealed)
}

func equalMeta(a, b metav1.ObjectMeta) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// LineDiff lists the lines only in a ("- ") and only in b ("+ "): what a
// change of one file did, for tests that assert one ciphertext changed.
func LineDiff(a, b string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if count[l] < 0 {
			out = append(out, "+ "+l)
		}
	}
	return out
}
