package generator

import (
	"fmt"
	"path"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/sealing"
)

// SecretsDir is the directory of env's SealedSecrets, relative to the
// repository: secrets/<env>. Only the secrets commands write it.
func SecretsDir(env string) string { return path.Join("secrets", env) }

// Lengths of the values the platform generates.
const (
	PasswordLength  = 32 // database, broker, cache and pgAdmin passwords
	AppSecretLength = 64 // INVENIO_SECRET_KEY and the security salts
)

// generatedLength is the one rule for who supplies a key: the platform
// generates the application's secret key and salts, every service
// password and the backup encryption password (a random value of this
// length); everything else (0) comes from the operator — today the SAML
// service provider's key pair, whose certificate the IdP must know, and
// the S3 access key of the backup bucket, which the object store issues. A key added later is the operator's
// until this rule says otherwise, so nothing is ever made up by mistake.
func generatedLength(e config.Environment, secret, key string) int {
	switch {
	case secret == string(e.Secrets.App):
		return AppSecretLength
	case secret == string(e.Secrets.Backup) && key == invenio.ResticPasswordKey:
		return AppSecretLength
	case key == invenio.PasswordKey && secret != string(e.Secrets.SAML):
		return PasswordLength
	}
	return 0
}

// SealingTarget is where the Secret named secret of e is sealed for: its
// final name and namespace — the overlays add no name prefix and put
// everything in the environment's namespace, and Flux applies secrets/<env>
// unchanged (TestSealedWhereRead proves both) — its scope from the
// description, and the platform's labels.
func SealingTarget(site config.Site, e config.Environment, secret string) sealing.Target {
	meta := component.Meta{Instance: string(site.Name), PartOf: string(site.PartOf), ManagedBy: string(site.ManagedBy)}
	return sealing.Target{
		Name:      secret,
		Namespace: string(e.Namespace),
		Scope:     sealing.Scope(e.Sealing.ScopeOf(secret)),
		Labels:    meta.Labels(&component.Component{Name: secret, Role: "credentials"}),
	}
}

// SecretKeys lists every Secret key the manifests of env read (Inventory
// of its rendering), where each is sealed for, and whether the platform
// generates it or the operator supplies it.
func SecretKeys(p *config.Platform, env string) ([]sealing.Key, error) {
	e, err := Environment(p, env)
	if err != nil {
		return nil, err
	}
	r, err := Render(p.Site, e, invenio.Options{})
	if err != nil {
		return nil, err
	}
	var keys []sealing.Key
	for _, ref := range Inventory(r) {
		keys = append(keys, sealing.Key{
			Target: SealingTarget(p.Site, e, ref.Secret),
			Key:    ref.Key,
			Length: generatedLength(e, ref.Secret, ref.Key),
			ReadBy: ref.ReadBy,
		})
	}
	return keys, nil
}

// CheckSecrets compares what env's manifests read with sealed, the
// SealedSecrets of secrets/<env> (sealing.ReadDir): what is missing or
// sealed for the wrong place, and what nobody reads.
func CheckSecrets(p *config.Platform, env string, sealed map[string]*ssv1alpha1.SealedSecret) (sealing.Report, error) {
	keys, err := SecretKeys(p, env)
	if err != nil {
		return sealing.Report{}, err
	}
	return sealing.Check(keys, sealed), nil
}

// RotationNote says how a new value of the Secret secret reaches the
// service that uses it (docs/secrets.md has the details).
func RotationNote(e config.Environment, secret string) string {
	switch secret {
	case string(e.Secrets.App):
		return "the pods that read it restart with the new value; a new secret-key needs `invenio instance migrate-secret-key --old-key <old>` (see docs/secrets.md), or stored tokens become unreadable"
	case string(e.Secrets.PostgreSQL):
		return "the postgresql pod applies the sealed password with ALTER ROLE at every start; the application pods restart with it"
	case string(e.Secrets.RabbitMQ):
		return "rabbitmq runs rabbitmqctl change_password at every start; the application pods restart with it"
	case string(e.Secrets.Redis):
		return "redis takes requirepass from the Secret at every start; it and the application pods restart with it"
	case string(e.Secrets.PgAdmin):
		return "pgAdmin restarts; its login password is set at first start only: see docs/secrets.md"
	case string(e.Secrets.Backup):
		return "the backup jobs read it at their next run; a new restic-password cannot open the existing repositories: add it to them first (restic key add, see docs/backup.md); a new S3 key must be valid before the old one is revoked"
	case string(e.Secrets.SAML):
		return "the web UI restarts with the new key pair; give the IdP the new SP metadata (https://" + string(e.Host) + "/saml/metadata/" + string(e.Auth.SAML.IdP) + ")"
	}
	return "the pods that read it restart with the new value"
}

// keyNotFound explains that env's manifests read no secret/key.
func keyNotFound(keys []sealing.Key, env, secret, key string) error {
	var secrets []string
	seen := map[string]bool{}
	var ofSecret []string
	for _, k := range keys {
		if !seen[k.Target.Name] {
			seen[k.Target.Name] = true
			secrets = append(secrets, k.Target.Name)
		}
		if k.Target.Name == secret {
			ofSecret = append(ofSecret, k.Key)
		}
	}
	if !seen[secret] {
		return fmt.Errorf("no manifest of environment %s reads a Secret %q: its Secrets are %v", env, secret, secrets)
	}
	return fmt.Errorf("no manifest of environment %s reads key %q of Secret %s: its keys are %v", env, key, secret, ofSecret)
}

// SecretKey is the key secret/key that env's manifests read, or an error
// naming what they do read.
func SecretKey(p *config.Platform, env, secret, key string) (sealing.Key, error) {
	keys, err := SecretKeys(p, env)
	if err != nil {
		return sealing.Key{}, err
	}
	for _, k := range keys {
		if k.Target.Name == secret && k.Key == key {
			return k, nil
		}
	}
	return sealing.Key{}, keyNotFound(keys, env, secret, key)
}
