// Package sealing seals Secret values for the sealed-secrets controller,
// in-process with the sealed-secrets Go packages and exactly as kubeseal
// does: each value is encrypted on its own (crypto.HybridEncrypt) with the
// label of its scope (v1alpha1.EncryptionLabel), into a typed
// v1alpha1.SealedSecret. It also keeps an environment's directory of
// SealedSecrets (secrets/<env>/), compares it with the keys the manifests
// read, and talks to the controller through the API server to fetch its
// certificate and re-encrypt.
//
// The package has no hidden inputs: randomness comes in as an io.Reader,
// the time as a time.Time, and only the functions about a directory touch
// the file system.
package sealing

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Scope is how a sealed value is bound to where it may be decrypted,
// spelt as kubeseal --scope spells it.
type Scope string

// The scopes.
const (
	// Strict binds a value to the Secret's namespace and name.
	Strict Scope = "strict"
	// NamespaceWide binds a value to the namespace only: the Secret may be renamed.
	NamespaceWide Scope = "namespace-wide"
	// ClusterWide binds a value to nothing: it decrypts anywhere in the cluster.
	ClusterWide Scope = "cluster-wide"
)

func (s Scope) v1alpha1() (ssv1alpha1.SealingScope, error) {
	switch s {
	case Strict, "":
		return ssv1alpha1.StrictScope, nil
	case NamespaceWide:
		return ssv1alpha1.NamespaceWideScope, nil
	case ClusterWide:
		return ssv1alpha1.ClusterWideScope, nil
	}
	return 0, fmt.Errorf("%q is not a sealing scope: use strict, namespace-wide or cluster-wide", string(s))
}

func scopeFrom(s ssv1alpha1.SealingScope) Scope {
	switch s {
	case ssv1alpha1.NamespaceWideScope:
		return NamespaceWide
	case ssv1alpha1.ClusterWideScope:
		return ClusterWide
	}
	return Strict
}

// ScopeOf is the scope a SealedSecret is decrypted with: the one its
// annotations declare (the controller reads them from metadata).
func ScopeOf(ss *ssv1alpha1.SealedSecret) Scope {
	return scopeFrom(ssv1alpha1.SecretScope(&ss.ObjectMeta))
}

// Target is the Secret a SealedSecret becomes in the cluster: its final
// name and namespace (after every kustomize and Flux transformation), the
// scope its values are bound with, and the labels it carries.
type Target struct {
	Name, Namespace string
	Scope           Scope
	Labels          map[string]string
}

func (t Target) String() string {
	scope := t.Scope
	if scope == "" {
		scope = Strict
	}
	return fmt.Sprintf("%s/%s (%s)", t.Namespace, t.Name, scope)
}

func (t Target) validate() error {
	if t.Name == "" || t.Namespace == "" {
		return fmt.Errorf("sealing target %s: a SealedSecret needs a name and a namespace", t)
	}
	_, err := t.Scope.v1alpha1()
	return err
}

// Key is one key of one Secret that the manifests read.
type Key struct {
	Target Target
	Key    string
	// Length > 0: the platform generates the value, Length random
	// characters. 0: the operator supplies it.
	Length int
	// ReadBy lists the workloads ("Kind/name") that read it.
	ReadBy []string
}

// Generated reports whether the platform makes the value up itself.
func (k Key) Generated() bool { return k.Length > 0 }

// String is "<secret>/<key>", as the secrets commands take it.
func (k Key) String() string { return k.Target.Name + "/" + k.Key }

// ValidKey reports whether key may be a key of a Secret.
func ValidKey(key string) error {
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid Secret key: %s", key, strings.Join(errs, "; "))
	}
	return nil
}

// Encrypt seals one value for t exactly as kubeseal does and returns the
// base64 text that goes into spec.encryptedData.
func Encrypt(rnd io.Reader, pub *rsa.PublicKey, t Target, value []byte) (string, error) {
	if err := t.validate(); err != nil {
		return "", err
	}
	scope, _ := t.Scope.v1alpha1()
	ct, err := crypto.HybridEncrypt(rnd, pub, value, ssv1alpha1.EncryptionLabel(t.Namespace, t.Name, scope))
	if err != nil {
		return "", fmt.Errorf("sealing a value of %s: %w", t, err)
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// metadata is what kubeseal writes on a SealedSecret for a Secret with
// these labels: name, namespace, labels and the scope annotation. The same
// metadata goes into spec.template.metadata, so the Secret carries the
// labels and the controller's re-encryption (which realigns the two when
// they differ) changes nothing.
func metadata(t Target) metav1.ObjectMeta {
	scope, _ := t.Scope.v1alpha1()
	m := metav1.ObjectMeta{Name: t.Name, Namespace: t.Namespace}
	if len(t.Labels) > 0 {
		m.Labels = maps.Clone(t.Labels)
	}
	if a := ssv1alpha1.UpdateScopeAnnotations(nil, scope); len(a) > 0 {
		m.Annotations = a
	}
	return m
}

// New is an empty SealedSecret for t.
func New(t Target) (*ssv1alpha1.SealedSecret, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	m := metadata(t)
	return &ssv1alpha1.SealedSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: ssv1alpha1.SchemeGroupVersion.String(), Kind: "SealedSecret"},
		ObjectMeta: m,
		Spec: ssv1alpha1.SealedSecretSpec{
			Template:      ssv1alpha1.SecretTemplateSpec{ObjectMeta: *m.DeepCopy(), Type: corev1.SecretTypeOpaque},
			EncryptedData: ssv1alpha1.SealedSecretEncryptedData{},
		},
	}, nil
}

// Compatible reports whether values sealed for t may be added to
// existing: the name, namespace and scope its values are bound to must be
// t's. Otherwise its values would have to be re-sealed.
func Compatible(existing *ssv1alpha1.SealedSecret, t Target) error {
	if err := t.validate(); err != nil {
		return err
	}
	if existing == nil {
		return nil
	}
	have := Target{Name: existing.Name, Namespace: existing.Namespace, Scope: ScopeOf(existing)}
	want := t
	if want.Scope == "" {
		want.Scope = Strict
	}
	if have.Name != want.Name || have.Namespace != want.Namespace || have.Scope != want.Scope {
		return fmt.Errorf("the SealedSecret is sealed for %s, but the manifests now read %s: its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it", have, want)
	}
	return nil
}

// Merge returns a copy of existing (nil: a new SealedSecret) holding
// encrypted (key → Encrypt's output) besides its other values, with t's
// labels. Every other key's ciphertext stays byte-identical. It refuses
// when existing is bound to another name, namespace or scope than t.
func Merge(existing *ssv1alpha1.SealedSecret, t Target, encrypted map[string]string) (*ssv1alpha1.SealedSecret, error) {
	if err := Compatible(existing, t); err != nil {
		return nil, err
	}
	for k, v := range encrypted {
		if err := ValidKey(k); err != nil {
			return nil, err
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil || v == "" {
			return nil, fmt.Errorf("%s/%s: the sealed value is not base64 ciphertext", t.Name, k)
		}
	}
	out, err := New(t)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.Spec.Data != nil {
			return nil, fmt.Errorf("%s uses the deprecated spec.data form: re-seal it", t)
		}
		// Keep what was there besides our metadata: other annotations and
		// template fields (type, immutable, templated data).
		out.Annotations = ssv1alpha1.UpdateScopeAnnotations(maps.Clone(existing.Annotations), mustScope(t.Scope))
		if len(out.Annotations) == 0 {
			out.Annotations = nil
		}
		tmpl := existing.Spec.Template.DeepCopy()
		tmpl.ObjectMeta = *out.ObjectMeta.DeepCopy()
		if tmpl.Type == "" {
			tmpl.Type = corev1.SecretTypeOpaque
		}
		out.Spec.Template = *tmpl
		maps.Copy(out.Spec.EncryptedData, existing.Spec.EncryptedData)
	}
	maps.Copy(out.Spec.EncryptedData, encrypted)
	return out, nil
}

func mustScope(s Scope) ssv1alpha1.SealingScope {
	v, err := s.v1alpha1()
	if err != nil {
		panic(err) // callers validated t
	}
	return v
}

// Seal encrypts values for t and merges them into existing (nil: a new
// SealedSecret). It checks every key and value before encrypting any, so
// it either seals all of them or returns an error.
func Seal(rnd io.Reader, pub *rsa.PublicKey, existing *ssv1alpha1.SealedSecret, t Target, values map[string][]byte) (*ssv1alpha1.SealedSecret, error) {
	if err := Compatible(existing, t); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errors.New("sealing: no public key")
	}
	keys := make([]string, 0, len(values))
	for k, v := range values {
		if err := ValidKey(k); err != nil {
			return nil, err
		}
		if len(v) == 0 {
			return nil, fmt.Errorf("%s/%s: the value is empty", t.Name, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	enc := map[string]string{}
	for _, k := range keys {
		v, err := Encrypt(rnd, pub, t, values[k])
		if err != nil {
			return nil, err
		}
		enc[k] = v
	}
	return Merge(existing, t, enc)
}

// alphabet is safe unquoted in URLs, shell words and SQL string literals.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Random returns n characters drawn uniformly from [0-9A-Za-z] (about 5.95
// bits each) with bytes from rnd; use crypto/rand.Reader.
func Random(rnd io.Reader, n int) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("random value of length %d", n)
	}
	// Bytes of 248 or more are rejected, so every character is equally
	// likely (248 = 4 × 62).
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("reading randomness: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
