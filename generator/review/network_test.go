package review

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// objects parses a YAML stream into a scope's objects.
func objects(t *testing.T, s string) Objects {
	t.Helper()
	docs, err := decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	out := Objects{}
	for _, d := range docs {
		out[idOf(d)] = Object{Doc: d}
	}
	return out
}

func workloadYAML(name string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: ns}
spec: {template: {metadata: {labels: {app: ` + name + `}}, spec: {containers: []}}}
---
`
}

const denyAll = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: ns}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
`

func policy(name, app, spec string) string {
	return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ` + name + `, namespace: ns}
spec:
  podSelector: {matchLabels: {app: ` + app + `}}
` + spec + "---\n"
}

const (
	webEgressToDB = `  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 5432}]}]
`
	dbIngressFromWeb = `  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432, protocol: TCP}]}]
`
)

func TestFlows(t *testing.T) {
	two := workloadYAML("web") + workloadYAML("db")
	cases := []struct {
		name string
		objs string
		want []string
	}{
		{name: "no policy: every pod open both ways", objs: two, want: []string{
			"anywhere → db on any port", "anywhere → web on any port", "db → anywhere on any port", "web → anywhere on any port"}},
		{name: "default deny", objs: two + denyAll},
		{name: "both sides allow", objs: two + denyAll + policy("web", "web", webEgressToDB) + policy("db", "db", dbIngressFromWeb),
			want: []string{"web → db on 5432/TCP"}},
		{name: "caller's egress missing: no flow", objs: two + denyAll + policy("db", "db", dbIngressFromWeb)},
		{name: "server's ingress missing: no flow", objs: two + denyAll + policy("web", "web", webEgressToDB)},
		{name: "other port on the server: no flow", objs: two + denyAll + policy("web", "web", webEgressToDB) + policy("db", "db", strings.Replace(dbIngressFromWeb, "5432", "5433", 1))},
		{name: "server not isolated", objs: two + policy("web", "web", webEgressToDB), want: []string{
			"anywhere → db on any port", "anywhere → web on any port", "db → anywhere on any port", "web → db on 5432/TCP"}},
		{name: "address blocks, namespaces, unknown pods, ranges", objs: two + denyAll + policy("web", "web", `  policyTypes: [Egress, Ingress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: 443}]
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}]
    ports: [{port: 53, protocol: UDP}]
  - to: [{podSelector: {matchLabels: {app: gone}}}]
    ports: [{port: 8000, endPort: 8010}]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
  - from: [{namespaceSelector: {}}]
    ports: [{port: http}]
`), want: []string{
			"every pod in every namespace → web on http/TCP",
			"namespace ingress-nginx → web on any port",
			"web → 10.0.0.0/8 except 10.1.0.0/16 on 443/TCP",
			"web → pods app=gone on 8000-8010/TCP",
			"web → pods k8s-app=kube-dns in namespace kube-system on 53/UDP",
		}},
		{name: "a namespace the revision has", objs: "{apiVersion: v1, kind: Namespace, metadata: {name: ns}}\n---\n" + two + denyAll +
			policy("web", "web", "  egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ns}}, podSelector: {matchLabels: {app: db}}}]}]\n") +
			policy("db", "db", "  ingress: [{from: [{namespaceSelector: {}}]}]\n"), want: []string{
			"every pod in every namespace → db on any port", "web → db on any port"}},
		{name: "rule without peers: anywhere", objs: workloadYAML("web") + policy("web", "web", "  ingress: [{ports: [{port: 80}]}]\n"), want: []string{
			"anywhere → web on 80/TCP", "web → anywhere on any port"}},
		{name: "policy selecting no workload", objs: denyAll + policy("solver", "solver", "  ingress: [{ports: [{port: 8089}]}]\n"), want: []string{
			"anywhere → pods app=solver on 8089/TCP"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(flows(objects(t, c.objs))))
			want := c.want
			sort.Strings(want)
			if diff := cmp.Diff(want, got, cmp.Transformer("nilIsEmpty", func(l []string) []string {
				if l == nil {
					return []string{}
				}
				return l
			})); diff != "" {
				t.Errorf("flows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFlowFlags(t *testing.T) {
	base := workloadYAML("web") + workloadYAML("db") + denyAll + policy("db", "db", dbIngressFromWeb)
	got := flowFlags(objects(t, base), objects(t, base+policy("web", "web", webEgressToDB)))
	want := []Flag{{Category: Network, Message: "flow web → db on 5432/TCP opened"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Flag{})); diff != "" {
		t.Errorf("opened (-want +got):\n%s", diff)
	}
	got = flowFlags(objects(t, base+policy("web", "web", webEgressToDB)), objects(t, base))
	want = []Flag{{Category: Network, Message: "flow web → db on 5432/TCP closed"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Flag{})); diff != "" {
		t.Errorf("closed (-want +got):\n%s", diff)
	}
	if got := flowFlags(objects(t, base), objects(t, base)); len(got) != 0 {
		t.Errorf("unchanged policies: %v, want no flags", got)
	}
}
