package generator

import (
	"errors"
	"fmt"
	"path"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/tree"
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

// SealingCertificateMismatches warns, for each cluster that two or more
// environments of p share, when their secrets/<env>/sealing-cert.pem in
// sealed hold different keys: one cluster runs one sealed-secrets
// controller, and a value sealed with another cluster's key (or a copied
// certificate) never decrypts there. The controller also decrypts with
// the older keys it renewed, so two certificates fetched a month apart
// may both work: a warning, naming the commands that make them agree.
// Environments without a certificate, or whose certificate does not
// parse, are left to `secrets check`.
func SealingCertificateMismatches(p *config.Platform, sealed tree.Tree) []string {
	var out []string
	for _, c := range flux.Clusters(p) {
		var envs, keys []string
		for _, e := range c.Envs {
			b, ok := sealed[path.Join(SecretsDir(string(e.Name)), sealing.CertFile)]
			if !ok {
				continue
			}
			k, err := sealing.CertificateKey(b)
			if err != nil {
				continue
			}
			envs = append(envs, string(e.Name))
			keys = append(keys, sealing.Fingerprint(k))
		}
		for i := 1; i < len(envs); i++ {
			if keys[i] == keys[0] {
				continue
			}
			out = append(out, fmt.Sprintf("environments %[1]s and %[2]s share cluster %[3]s, but their sealing certificates hold different keys (%[4]s, %[5]s): the cluster's one controller decrypts only values sealed with a key it holds. "+
				"Fetch its certificate for both (`platformctl secrets fetch-cert %[1]s`, `platformctl secrets fetch-cert %[2]s`); then `platformctl secrets reencrypt <env>` refreshes values sealed with an older key of that controller, and values sealed for another cluster must be sealed again (`platformctl secrets rotate <env> <secret>/<key>`)",
				envs[0], envs[i], c.Name, keys[0], keys[i]))
		}
	}
	return out
}

// CheckSealedLists fails when the kustomization.yaml of the secrets/<env>/
// directory of one of envs in sealed lists a file that is not there (a sealed file
// deleted by hand), naming the file and the commands that seal its keys
// again and rewrite the list, instead of kustomize's "doesn't exist"
// error from the build of that directory.
func CheckSealedLists(envs []config.Environment, sealed tree.Tree) error {
	var errs []error
	for _, e := range envs {
		env := string(e.Name)
		dir := SecretsDir(env)
		b, ok := sealed[path.Join(dir, sealing.KustomizationFile)]
		if !ok {
			continue
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(b, &k); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %v (written by `platformctl secrets`; `platformctl secrets init %s` writes it again)", dir, sealing.KustomizationFile, err, env))
			continue
		}
		for _, r := range k.Resources {
			if _, ok := sealed[path.Join(dir, r)]; ok {
				continue
			}
			errs = append(errs, fmt.Errorf("%s/%s lists %s, which is not there (deleted by hand?): `platformctl secrets init %s` seals its generated keys again and rewrites the list; keys you supply need `platformctl secrets set %s <secret>/<key> --from-file <file>` (`platformctl secrets check %s` lists them)",
				dir, sealing.KustomizationFile, r, env, env, env))
		}
	}
	return errors.Join(errs...)
}
