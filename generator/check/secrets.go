package check

import (
	"fmt"
	"regexp"
)

// secretsChecks are the secrets family, in the order they run.
var secretsChecks = []Check{
	{ID: "secret-references", Family: "secrets", Run: secretReferences,
		Rationale: "every Secret key a pod reads is sealed for the environment, and only SealedSecrets reach git",
		Upstream:  "secret inventory"},
	{ID: "env", Family: "secrets", Run: envVars,
		Rationale: "a credential written as a literal is in git in plain text; a duplicate variable hides which value wins",
		Upstream:  "kube-linter env-var-secret, duplicate-env-var; Polaris sensitiveContainerEnvVar"},
	{ID: "configmap-content", Family: "secrets", Run: configMapContent,
		Rationale: "a ConfigMap is readable by anyone who can read the namespace: no passwords or keys in it",
		Upstream:  "Polaris sensitiveConfigmapContent"},
}

// SecretInventory collects every Secret key the pods read: secret name
// → key → readers.
func SecretInventory(b *Build) map[string]map[string][]string {
	inv := map[string]map[string][]string{}
	add := func(secret, key, by string) {
		if inv[secret] == nil {
			inv[secret] = map[string][]string{}
		}
		for _, r := range inv[secret][key] {
			if r == by {
				return
			}
		}
		inv[secret][key] = append(inv[secret][key], by)
	}
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, p.ref())
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					add(ef.SecretRef.Name, "*", p.ref())
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			if v.Secret != nil {
				if len(v.Secret.Items) == 0 {
					add(v.Secret.SecretName, "*", p.ref())
				}
				for _, it := range v.Secret.Items {
					add(v.Secret.SecretName, it.Key, p.ref())
				}
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						for _, it := range src.Secret.Items {
							add(src.Secret.Name, it.Key, p.ref())
						}
						if len(src.Secret.Items) == 0 {
							add(src.Secret.Name, "*", p.ref())
						}
					}
				}
			}
		}
	}
	return inv
}

// secretReferences: every Secret a pod reads is one the platform
// description lists, by name and key: a secretKeyRef names its key, a
// secret volume lists its items, and no envFrom imports a whole Secret
// (its keys could not be inventoried).
func secretReferences(b *Build) []Finding {
	var out []Finding
	for _, name := range b.PlainSecrets {
		out = append(out, Finding{"Secret/" + name, "a Secret with data in the repository: only SealedSecrets belong in git"})
	}
	inv := SecretInventory(b)
	for _, secret := range sortedKeys(inv) {
		for _, key := range sortedKeys(inv[secret]) {
			for _, by := range inv[secret][key] {
				switch {
				case secret == "":
					out = append(out, Finding{by, "reads a Secret without a name"})
				case key == "*":
					out = append(out, Finding{by, fmt.Sprintf("reads all of Secret %s (envFrom or a volume without items): its keys cannot be inventoried", secret)})
				case key == "":
					out = append(out, Finding{by, fmt.Sprintf("reads Secret %s without naming a key", secret)})
				}
				if b.ListedSecrets != nil && secret != "" && !b.ListedSecrets[secret] {
					out = append(out, Finding{by, fmt.Sprintf("reads Secret %s, which the environment's secrets: does not list", secret)})
				}
				if b.Sealed != nil && secret != "" && key != "" && key != "*" && !b.Sealed[secret][key] {
					out = append(out, Finding{by, fmt.Sprintf("reads %s/%s, which no SealedSecret of the build holds", secret, key)})
				}
			}
		}
	}
	return out
}

// Literal environment variables whose names say they carry a secret
// (kube-linter env-var-secret's (?i).*secret.*; Polaris
// sensitiveContainerEnvVar's name patterns) and private keys in values.
var (
	secretNamePattern = regexp.MustCompile(`(?i)secret|password|token|bearer|^AWS_SECRET_ACCESS_KEY$|^GOOGLE_APPLICATION_CREDENTIALS$|^AZURE_.+KEY$|^OCI_CLI_KEY_CONTENT$`)
	privateKeyPattern = regexp.MustCompile(`(?i)\s*-BEGIN\s+.*PRIVATE KEY-\s*`)
)

// envVars: no secret-looking literal values, no duplicate names.
func envVars(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s sets %s twice", c.Name, e.Name)})
				}
				seen[e.Name] = true
				if e.Value != "" && secretNamePattern.MatchString(e.Name) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has a literal value for secret-looking variable %s", c.Name, e.Name)})
				}
				if privateKeyPattern.MatchString(e.Value) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s variable %s holds a private key", c.Name, e.Name)})
				}
			}
		}
	}
	return out
}

// configMapContent is Polaris sensitiveConfigmapContent: no
// secret-looking keys, no private keys in values.
func configMapContent(b *Build) []Finding {
	var out []Finding
	for _, name := range sortedKeys(b.ConfigMaps) {
		cm := b.ConfigMaps[name]
		for _, k := range sortedKeys(cm.Data) {
			if secretNamePattern.MatchString(k) {
				out = append(out, Finding{refOf(cm), fmt.Sprintf("secret-looking key %s", k)})
			}
			if privateKeyPattern.MatchString(cm.Data[k]) {
				out = append(out, Finding{refOf(cm), fmt.Sprintf("key %s holds a private key", k)})
			}
		}
	}
	return out
}
