package generator

import (
	"path/filepath"
	"testing"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
)

// The benchmarks below are what scripts/bench.sh (make bench) compares
// with `kubectl kustomize`. BenchmarkGenerateAndBuild is the whole job;
// BenchmarkGenerate and BenchmarkBuild split it to show what dominates.

func benchPlatform(b *testing.B) *config.Platform {
	b.Helper()
	p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchTree(b *testing.B, p *config.Platform) tree.Tree {
	b.Helper()
	t, err := Generate(p)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkGenerateAndBuild is one full run: read platform.yaml, compute
// the tree, and build every environment's overlay in-process.
func BenchmarkGenerateAndBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		t, err := Generate(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range p.Environments {
			if _, err := BuildYAML(t, "overlays/"+string(e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkGenerate is config.Load plus Generate, no kustomize.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Generate(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild is the in-process kustomize build of every environment
// from an already generated tree.
func BenchmarkBuild(b *testing.B) {
	p := benchPlatform(b)
	t := benchTree(b, p)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range p.Environments {
			if _, err := BuildYAML(t, "overlays/"+string(e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
