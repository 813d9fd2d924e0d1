package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SealedSecretsController describes the running sealed-secrets controller.
type SealedSecretsController struct {
	Namespace, Name string
	// URL is the controller's own HTTP listener (/v1/cert.pem, /healthz).
	URL string
}

// StartSealedSecrets runs the real sealed-secrets controller as a local
// process in namespace ns under the ServiceAccount name, with the given key
// pair as its only (active) sealing key, as an operator restoring a backed-up
// key would install it.
//
// The controller only supports in-cluster configuration (token and CA at
// /var/run/secrets/kubernetes.io/serviceaccount), so it runs in a private
// mount namespace with a tmpfs over /run holding them: nothing is written on
// the host.
func (c *Cluster) StartSealedSecrets(ctx context.Context, ns, name string, key SealingKeyPair) (*SealedSecretsController, error) {
	cs := c.Client
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-key-e2e", Labels: map[string]string{"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: key.CertPEM, corev1.TLSPrivateKeyKey: key.KeyPEM},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(4 * 3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	saDir := filepath.Join(c.LogDir, "sealed-secrets-sa")
	if err := os.MkdirAll(saDir, 0o700); err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, err
	}
	for f, v := range map[string][]byte{"token": []byte(tok.Status.Token), "ca.crt": caPEM, "namespace": []byte(ns)} {
		if err := os.WriteFile(filepath.Join(saDir, f), v, 0o600); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	const inNamespace = `set -e
mount -t tmpfs -o mode=0755 e2e-run /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
cp "$0"/token "$0"/ca.crt "$0"/namespace /run/secrets/kubernetes.io/serviceaccount/
exec "$@"`
	p, err := c.run("sealed-secrets-controller",
		[]string{"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + strconv.Itoa(c.APIPort), "POD_NAMESPACE=" + ns},
		"unshare", "--mount", "sh", "-c", inNamespace, saDir,
		filepath.Join(c.tools.Bin, "sealed-secrets-controller"),
		fmt.Sprintf("--listen-addr=127.0.0.1:%d", ports[0]), fmt.Sprintf("--listen-metrics-addr=127.0.0.1:%d", ports[1]),
		"--key-renew-period=0", "--update-status=true", "--key-prefix=sealed-secrets-key")
	if err != nil {
		return nil, err
	}
	ctrl := &SealedSecretsController{Namespace: ns, Name: name, URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := poll(wctx, "sealed-secrets controller /healthz", 200*time.Millisecond, []*process{p}, httpOK(ctrl.URL+"/healthz", false)); err != nil {
		return nil, err
	}
	return ctrl, nil
}
