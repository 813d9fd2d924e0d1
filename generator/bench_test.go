package generator

import "testing"

// The benchmarks below are what scripts/bench.sh (make bench) compares
// with `kubectl kustomize`. BenchmarkGenerateAndBuild is the whole job;
// BenchmarkGenerate and BenchmarkBuild split it to show what dominates.

// BenchmarkGenerateAndBuild is one full run: read platform.yaml, compute
// the tree, and build every environment's overlay in-process.
func BenchmarkGenerateAndBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, t := generate(b)
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
		generate(b)
	}
}

// BenchmarkBuild is the in-process kustomize build of every environment
// from an already generated tree.
func BenchmarkBuild(b *testing.B) {
	p, t := generate(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range p.Environments {
			if _, err := BuildYAML(t, "overlays/"+string(e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
