package kubelet

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// containerEnv is a container's environment as the kubelet and the runtime
// compose it: the image's ENV, HOSTNAME, then envFrom and env in order,
// each $(VAR) expanded against what is defined before it.
func (p *Pod) containerEnv(img *Image, c *corev1.Container) (env []string, kube map[string]string, err error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	set("HOSTNAME", p.Name)
	// The kubelet's own variables (service links are off in every pod here).
	kube = map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := p.node.configMaps[from.ConfigMapRef.Name]
			if !ok {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, nil, fmt.Errorf("container %s: envFrom ConfigMap %s not found", c.Name, from.ConfigMapRef.Name)
			}
			for _, k := range sortedKeys(cm.Data) {
				kube[from.Prefix+k] = cm.Data[k]
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			s, ok := p.node.secrets[from.SecretRef.Name]
			if !ok {
				if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, nil, fmt.Errorf("container %s: envFrom Secret %s not found", c.Name, from.SecretRef.Name)
			}
			for _, k := range sortedKeys(s.Data) {
				kube[from.Prefix+k] = string(s.Data[k])
				set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}
	for _, e := range c.Env {
		v, err := p.envValue(c, e, kube)
		if err != nil {
			return nil, nil, err
		}
		kube[e.Name] = v
		set(e.Name, v)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, kube, nil
}

func (p *Pod) envValue(c *corev1.Container, e corev1.EnvVar, defined map[string]string) (string, error) {
	if e.ValueFrom == nil {
		return expand(e.Value, defined), nil
	}
	switch f := e.ValueFrom; {
	case f.SecretKeyRef != nil:
		s, ok := p.node.secrets[f.SecretKeyRef.Name]
		if !ok {
			return "", fmt.Errorf("container %s: env %s: Secret %s not found", c.Name, e.Name, f.SecretKeyRef.Name)
		}
		v, ok := s.Data[f.SecretKeyRef.Key]
		if !ok {
			return "", fmt.Errorf("container %s: env %s: Secret %s has no key %s", c.Name, e.Name, f.SecretKeyRef.Name, f.SecretKeyRef.Key)
		}
		return string(v), nil
	case f.ConfigMapKeyRef != nil:
		cm, ok := p.node.configMaps[f.ConfigMapKeyRef.Name]
		if !ok {
			return "", fmt.Errorf("container %s: env %s: ConfigMap %s not found", c.Name, e.Name, f.ConfigMapKeyRef.Name)
		}
		v, ok := cm.Data[f.ConfigMapKeyRef.Key]
		if !ok {
			return "", fmt.Errorf("container %s: env %s: ConfigMap %s has no key %s", c.Name, e.Name, f.ConfigMapKeyRef.Name, f.ConfigMapKeyRef.Key)
		}
		return v, nil
	case f.FieldRef != nil:
		switch f.FieldRef.FieldPath {
		case "metadata.name":
			return p.Name, nil
		case "metadata.namespace":
			return p.node.namespace, nil
		case "status.podIP":
			return p.IP.String(), nil
		case "spec.nodeName":
			return "node", nil
		}
		return "", fmt.Errorf("container %s: env %s: fieldRef %s is not supported here", c.Name, e.Name, f.FieldRef.FieldPath)
	case f.ResourceFieldRef != nil:
		q, ok := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(f.ResourceFieldRef.Resource, "limits."))]
		if !ok || !strings.HasPrefix(f.ResourceFieldRef.Resource, "limits.") {
			return "", fmt.Errorf("container %s: env %s: resourceFieldRef %s is not supported here", c.Name, e.Name, f.ResourceFieldRef.Resource)
		}
		return fmt.Sprint(q.Value()), nil
	}
	return "", fmt.Errorf("container %s: env %s: unsupported valueFrom", c.Name, e.Name)
}

// expand replaces $(VAR) with the value of a variable defined before, as
// the kubelet does: $$ is a literal $, an unknown $(VAR) stays as written.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// expandArgs expands $(VAR) in a command or its arguments against the
// container's env and envFrom (not the image's ENV), as the kubelet does.
func expandArgs(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, vars)
	}
	return out
}
