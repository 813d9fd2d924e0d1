package check

import (
	"fmt"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	routev1 "github.com/openshift/api/route/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"lbl.gov/invenio-gitops/generator/invenio"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, rbacv1.AddToScheme,
		ssv1alpha1.AddToScheme, monitoringv1.AddToScheme, gwapiv1.AddToScheme, egv1a1.AddToScheme,
		routev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	// cert-manager's Certificate as the generator writes it (a reduced
	// type: cert-manager's API module is not a dependency).
	s.AddKnownTypes(schema.GroupVersion{Group: "cert-manager.io", Version: "v1"}, &invenio.Certificate{})
	return s
}()

var serializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// Decode decodes one YAML document into its k8s.io/api type,
// chosen by apiVersion/kind. Unknown kinds, unknown fields and duplicate
// fields are errors.
func Decode(doc []byte) (runtime.Object, error) {
	obj, gvk, err := serializer.Decode(doc, nil, nil)
	if runtime.IsNotRegisteredError(err) && gvk != nil {
		return nil, fmt.Errorf("kind %s of %s is not a kind the checks know (core, apps, batch, networking, policy, autoscaling, RBAC, sealed-secrets, Prometheus Operator, Gateway API, Envoy Gateway, OpenShift Route, cert-manager Certificate)", gvk.Kind, gvk.GroupVersion())
	}
	if err != nil {
		if gvk != nil {
			return nil, fmt.Errorf("%s: %w", gvk, err)
		}
		return nil, err
	}
	return obj, nil
}
