package cluster

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The API server's certificate verifies for every name a client uses, the
// admin certificate is a system:masters client, both chain to the CA; a
// name the certificate does not hold fails.
func TestPKI(t *testing.T) {
	p, err := NewPKI(t.TempDir(), net.IPv4(10, 96, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, p.CACert))
	server := readCert(t, p.APIServerCert)
	for _, name := range []string{"127.0.0.1", "10.96.0.1", "localhost", "kubernetes.default.svc"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("API server certificate for %s: %v", name, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots}); err == nil {
		t.Error("API server certificate verifies for example.com")
	}
	admin := readCert(t, p.AdminCert)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate: %v", err)
	}
	if got := admin.Subject.Organization; !cmp.Equal(got, []string{"system:masters"}) {
		t.Errorf("admin organization = %v", got)
	}
	for _, f := range []string{p.SAKey, p.SAPub, p.APIServerKey, p.AdminKey} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

func TestSealingKeyPairIsUsableBySealing(t *testing.T) {
	kp, err := NewSealingKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(kp.CertPEM)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(kp.KeyPEM)
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Error("certificate and key do not match")
	}
	if key.N.BitLen() < 2048 {
		t.Errorf("RSA key of %d bits", key.N.BitLen())
	}
}

// The artifact holds every file (not .git) under its relative path, sorted,
// and packing twice gives the same bytes (so a revision's digest is stable).
func TestTarGz(t *testing.T) {
	dir := t.TempDir()
	for p, content := range map[string]string{"b/x.yaml": "x", "a.yaml": "a", ".git/HEAD": "ref", "b/c/y.yaml": "y"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644)
	}
	one, err := TarGz(dir)
	if err != nil {
		t.Fatal(err)
	}
	two, _ := TarGz(dir)
	if !bytes.Equal(one, two) {
		t.Error("packing twice gives different bytes")
	}
	gz, err := gzip.NewReader(bytes.NewReader(one))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
		order = append(order, h.Name)
	}
	want := map[string]string{"a.yaml": "a", "b/c/y.yaml": "y", "b/x.yaml": "x"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("artifact content (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a.yaml", "b/c/y.yaml", "b/x.yaml"}, order); d != "" {
		t.Errorf("artifact order (-want +got):\n%s", d)
	}
}

func TestVolumeFor(t *testing.T) {
	class := "cephfs"
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "invenio-files", Namespace: "invenio-dev", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}},
		},
	}
	pv := VolumeFor(pvc)
	if pv.Spec.StorageClassName != "cephfs" || !cmp.Equal(pv.Spec.AccessModes, pvc.Spec.AccessModes) {
		t.Errorf("class/modes = %q %v", pv.Spec.StorageClassName, pv.Spec.AccessModes)
	}
	if q := pv.Spec.Capacity[corev1.ResourceStorage]; q.Cmp(resource.MustParse("20Gi")) != 0 {
		t.Errorf("capacity = %s", q.String())
	}
	if r := pv.Spec.ClaimRef; r == nil || r.Name != "invenio-files" || r.Namespace != "invenio-dev" || r.UID != "u1" {
		t.Errorf("claimRef = %+v", r)
	}
}

func TestDecode(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if d := cmp.Diff([]string{"ConfigMap/a", "Secret/b"}, got); d != "" {
		t.Error(d)
	}
	if _, err := Decode([]byte("a: [")); err == nil {
		t.Error("broken YAML decoded without error")
	}
}

func TestWarningLog(t *testing.T) {
	var w WarningLog
	w.HandleWarningHeader(299, "", "would violate PodSecurity")
	w.HandleWarningHeader(199, "", "other code")
	w.HandleWarningHeader(299, "", "")
	if got := w.Take(); !cmp.Equal(got, []string{"would violate PodSecurity"}) {
		t.Errorf("Take() = %v", got)
	}
	if got := w.Take(); len(got) != 0 {
		t.Errorf("second Take() = %v", got)
	}
}
