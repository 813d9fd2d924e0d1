package sealing_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
)

// TestControllerThroughTheAPIServer fetches the certificate and
// re-encrypts through a fake API server's service proxy, in front of a
// controller that unseals and reseals with sealed-secrets' own code.
func TestControllerThroughTheAPIServer(t *testing.T) {
	old, renewed := testKeys(t)
	cluster := sealingtest.NewCluster(t, "shared-services", "sealed-secrets-cvre", old)
	cfg, err := sealing.RESTConfig(cluster.Kubeconfig(t), "")
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := sealing.NewController(cfg, "shared-services", "sealed-secrets-cvre")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	pemBytes, pub, err := sealing.FetchCert(ctx, ctrl, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(old.CertPEM), string(pemBytes)); diff != "" {
		t.Errorf("certificate (-controller +fetched):\n%s", diff)
	}
	if !pub.Equal(&old.Key.PublicKey) {
		t.Error("FetchCert returned another key")
	}

	tg := target(sealing.NamespaceWide)
	ss, err := sealing.Seal(rand.Reader, pub, nil, tg, map[string][]byte{"a": []byte("TEST-A"), "b": []byte("TEST-B")})
	if err != nil {
		t.Fatal(err)
	}
	cluster.Renew(renewed)
	re, err := sealing.Reencrypt(ctx, ctrl, ss)
	if err != nil {
		t.Fatal(err)
	}
	// Sealed with the new key: the new key alone decrypts it.
	secret, err := sealingtest.Unseal(t, re, renewed)
	if err != nil {
		t.Fatalf("the re-encrypted SealedSecret does not decrypt with the new key: %v", err)
	}
	if diff := cmp.Diff(map[string][]byte{"a": []byte("TEST-A"), "b": []byte("TEST-B")}, secret.Data); diff != "" {
		t.Errorf("unsealed (-want +got):\n%s", diff)
	}
	if _, err := sealingtest.Unseal(t, re, old); err == nil {
		t.Error("the re-encrypted SealedSecret still decrypts with the old key only")
	}
	// Only encryptedData changed.
	re2 := re.DeepCopy()
	re2.Spec.EncryptedData = ss.Spec.EncryptedData
	if diff := cmp.Diff(ss, re2); diff != "" {
		t.Errorf("re-encryption changed more than encryptedData (-before +after):\n%s", diff)
	}
	want := []string{
		"GET /api/v1/namespaces/shared-services/services/sealed-secrets-cvre",
		"GET /api/v1/namespaces/shared-services/services/http:sealed-secrets-cvre:http/proxy/v1/cert.pem",
		"GET /api/v1/namespaces/shared-services/services/sealed-secrets-cvre",
		"POST /api/v1/namespaces/shared-services/services/http:sealed-secrets-cvre:http/proxy/v1/rotate",
	}
	if diff := cmp.Diff(want, cluster.Requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// Sealed with a key the controller does not have.
	foreign := sealingtest.ValidKeyPair(t)
	bad, _ := sealing.Seal(rand.Reader, &foreign.Key.PublicKey, nil, tg, map[string][]byte{"a": []byte("TEST-A")})
	if _, err := sealing.Reencrypt(ctx, ctrl, bad); err == nil {
		t.Error("re-encrypting a SealedSecret the controller cannot decrypt succeeded")
	}

	// A controller that is not there.
	missing, _ := sealing.NewController(cfg, "kube-system", "sealed-secrets-controller")
	_, _, err = sealing.FetchCert(ctx, missing, time.Now())
	wantErr := "cannot find the sealed-secrets controller's Service kube-system/sealed-secrets-controller (sealing.controllerName and sealing.controllerNamespace in the description): /api/v1/namespaces/kube-system/services/sealed-secrets-controller not found"
	if err == nil || err.Error() != wantErr {
		t.Errorf("got %v\nwant %s", err, wantErr)
	}

	// An expired certificate is refused.
	notAfter := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	cluster.Renew(sealingtest.NewKeyPair(t, notAfter.Add(-24*time.Hour), notAfter))
	wantErr = "the controller's certificate: the certificate expired on " + notAfter.UTC().Format(time.RFC3339)
	if _, _, err := sealing.FetchCert(ctx, ctrl, time.Now()); err == nil || err.Error() != wantErr {
		t.Errorf("got %v", err)
	}
}
