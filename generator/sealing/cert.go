package sealing

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// MinKeyBits is the smallest RSA key accepted for sealing (the controller
// makes 4096-bit keys).
const MinKeyBits = 2048

// Certificate parses the first PEM block of b as the controller's sealing
// certificate and checks that it is valid at now and holds an RSA key.
func Certificate(b []byte, now time.Time) (*x509.Certificate, error) {
	cert, err := parseCertificate(b)
	if err != nil {
		return nil, err
	}
	if now.Before(cert.NotBefore) {
		return nil, fmt.Errorf("the certificate is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("the certificate expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// CertificateKey is the sealing key of certificate b (PEM), whatever its validity
// dates; the errors are Certificate's.
func CertificateKey(b []byte) (*rsa.PublicKey, error) {
	cert, err := parseCertificate(b)
	if err != nil {
		return nil, err
	}
	return cert.PublicKey.(*rsa.PublicKey), nil
}

// parseCertificate is Certificate without the dates.
func parseCertificate(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM file: expected a -----BEGIN CERTIFICATE----- block")
	}
	if block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the PEM block is %q, not CERTIFICATE: sealing needs the controller's public certificate", block.Type)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not an X.509 certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the certificate's key is %s, not RSA: sealed-secrets seals with RSA-OAEP", cert.PublicKeyAlgorithm)
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return nil, fmt.Errorf("the certificate's RSA key has %d bits, fewer than %d", bits, MinKeyBits)
	}
	return cert, nil
}

// ParseCertificate is the public key of the sealing certificate b (see
// Certificate for the checks).
func ParseCertificate(b []byte, now time.Time) (*rsa.PublicKey, error) {
	cert, err := Certificate(b, now)
	if err != nil {
		return nil, err
	}
	return cert.PublicKey.(*rsa.PublicKey), nil
}

// Fingerprint is the SHA256 fingerprint sealed-secrets uses to name a key
// (as in the controller's logs).
func Fingerprint(pub *rsa.PublicKey) string {
	f, err := crypto.PublicKeyFingerprint(pub)
	if err != nil {
		return "unknown"
	}
	return f
}

// normalizeCert is the first PEM block of b alone, re-encoded: the form
// sealing-cert.pem is stored in.
func normalizeCert(b []byte) []byte {
	block, _ := pem.Decode(b)
	if block == nil {
		return b
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes})
}
