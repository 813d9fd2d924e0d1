package generator

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// podLimits is what one pod may use at most: its containers together, or
// its largest init container, whichever is more (init containers run
// before the others, one at a time).
func podLimits(spec corev1.PodSpec) (cpu, mem resource.Quantity) {
	for _, c := range spec.Containers {
		cpu.Add(*c.Resources.Limits.Cpu())
		mem.Add(*c.Resources.Limits.Memory())
	}
	for _, c := range spec.InitContainers {
		if c.Resources.Limits.Cpu().Cmp(cpu) > 0 {
			cpu = c.Resources.Limits.Cpu().DeepCopy()
		}
		if c.Resources.Limits.Memory().Cmp(mem) > 0 {
			mem = c.Resources.Limits.Memory().DeepCopy()
		}
	}
	return cpu, mem
}

// TestEnvironmentFitsItsBudget: seed 000 gives development 12 CPU cores and
// 30 GB of memory; dev must fit with every pod at its limit.
func TestEnvironmentFitsItsBudget(t *testing.T) {
	p := loadPlatform(t)
	for _, tc := range []struct {
		env      string
		cpu, mem string
	}{
		{"dev", "12", "30G"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cs := envComponents(t, p, tc.env)
			var cpu, mem resource.Quantity
			for _, c := range cs {
				for _, o := range c.Objects {
					var spec corev1.PodSpec
					replicas := int64(1)
					switch w := o.(type) {
					case *appsv1.Deployment:
						spec, replicas = w.Spec.Template.Spec, int64(*w.Spec.Replicas)
					case *appsv1.StatefulSet:
						spec, replicas = w.Spec.Template.Spec, int64(*w.Spec.Replicas)
					case *batchv1.Job:
						spec = w.Spec.Template.Spec
					default:
						continue
					}
					c, m := podLimits(spec)
					for i := int64(0); i < replicas; i++ {
						cpu.Add(c)
						mem.Add(m)
					}
				}
			}
			t.Logf("%s at its limits: %s CPU, %s memory", tc.env, cpu.String(), mem.String())
			if cpu.Cmp(resource.MustParse(tc.cpu)) > 0 || mem.Cmp(resource.MustParse(tc.mem)) > 0 {
				t.Errorf("%s needs %s CPU and %s memory at its limits; the budget is %s CPU and %s", tc.env, cpu.String(), mem.String(), tc.cpu, tc.mem)
			}
		})
	}
}
