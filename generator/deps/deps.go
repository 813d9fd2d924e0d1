// Package deps pins modules that packages under construction import; it is
// removed once they do.
package deps

import (
	_ "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	_ "github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "github.com/fluxcd/kustomize-controller/api/v1"
	_ "github.com/fluxcd/source-controller/api/v1"
	_ "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
)
