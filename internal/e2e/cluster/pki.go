package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is the throw-away certificate authority of one control plane and the
// files the components read: the API server's serving certificate, the
// admin client certificate (group system:masters) and the service-account
// token signing key.
type PKI struct {
	Dir string
	// Files, by what they are.
	CACert, APIServerCert, APIServerKey, AdminCert, AdminKey, SAKey, SAPub string

	caCert *x509.Certificate
	caKey  crypto.Signer
}

// apiServerSANs are the names a client may use for the API server: loopback
// and the in-cluster names of the kubernetes Service (first address of the
// service range), as kubeadm issues them.
var apiServerSANs = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

// NewPKI writes a CA and the component certificates under dir.
func NewPKI(dir string, serviceIP net.IP) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &PKI{Dir: dir}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	if p.caCert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	p.caKey = caKey
	if p.CACert, err = p.write("ca.crt", "CERTIFICATE", der); err != nil {
		return nil, err
	}
	if p.APIServerCert, p.APIServerKey, err = p.leaf("apiserver", pkix.Name{CommonName: "kube-apiserver"},
		x509.ExtKeyUsageServerAuth, apiServerSANs, []net.IP{net.IPv4(127, 0, 0, 1), serviceIP}, 2); err != nil {
		return nil, err
	}
	if p.AdminCert, p.AdminKey, err = p.leaf("admin", pkix.Name{CommonName: "e2e-admin", Organization: []string{"system:masters"}},
		x509.ExtKeyUsageClientAuth, nil, nil, 3); err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if p.SAKey, err = p.write("sa.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if p.SAPub, err = p.write("sa.pub", "PUBLIC KEY", pub); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PKI) leaf(name string, subject pkix.Name, usage x509.ExtKeyUsage, dns []string, ips []net.IP, serial int64) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	if certFile, err = p.write(name+".crt", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	keyFile, err = p.write(name+".key", "EC PRIVATE KEY", keyDER)
	return certFile, keyFile, err
}

func (p *PKI) write(name, typ string, der []byte) (string, error) {
	path := filepath.Join(p.Dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return "", fmt.Errorf("pki: %w", err)
	}
	return path, nil
}

// SealingKeyPair is an RSA key pair and self-signed certificate in the form
// the sealed-secrets controller keeps its keys (a kubernetes.io/tls Secret).
type SealingKeyPair struct {
	CertPEM, KeyPEM []byte
}

// NewSealingKeyPair makes a sealed-secrets key pair as the controller would
// (RSA, self-signed, CN sealed-secret).
func NewSealingKeyPair() (SealingKeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SealingKeyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "sealed-secret", Organization: []string{"e2e"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return SealingKeyPair{}, err
	}
	return SealingKeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}, nil
}
