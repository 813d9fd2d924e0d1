package check

import (
	"fmt"
	"regexp"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// workloadsChecks are the workloads family, in the order they run.
var workloadsChecks = []Check{
	{ID: "resources", Family: "workloads", Run: resources,
		Rationale: "requests let the scheduler place pods; limits keep one pod from starving the node",
		Upstream:  "kube-linter unset-cpu-requirements, unset-memory-requirements; Polaris cpu/memory requests/limits missing"},
	{ID: "probes", Family: "workloads", Run: probes,
		Rationale: "readiness keeps traffic off a pod that cannot serve; liveness restarts one that hangs",
		Upstream:  "Polaris livenessProbeMissing, readinessProbeMissing"},
	{ID: "images", Family: "workloads", Run: images,
		Rationale: "a pinned tag makes a rollout reproducible and a rollback possible",
		Upstream:  "kube-linter latest-tag; Polaris tagNotSpecified"},
	{ID: "polaris/pullPolicyNotAlways", Family: "workloads", Run: pullPolicyAlways,
		Rationale: "Polaris's rule as written: every start pulls, so a retagged image is noticed",
		Upstream:  "Polaris pullPolicyNotAlways"},
	{ID: "api-versions", Family: "workloads", Run: apiVersions,
		Rationale: "removed API versions are refused by current API servers",
		Upstream:  "kube-linter no-extensions-v1beta"},
	{ID: "kube-linter/no-anti-affinity", Family: "workloads", Run: antiAffinity,
		Rationale: "replicas on one node all go with it: replicas spread over nodes",
		Upstream:  "kube-linter no-anti-affinity"},
	{ID: "job-limits", Family: "workloads", Run: jobLimits,
		Rationale: "a Job or CronJob always ends: deadline, retry limit, no overlapping runs, bounded history",
		Upstream:  "Jobs and CronJobs are bounded (backups: issue 7)"},
	{ID: "kube-linter/job-ttl-seconds-after-finished", Family: "workloads", Run: jobTTL,
		Rationale: "kube-linter's rule as written: finished Jobs are deleted",
		Upstream:  "kube-linter job-ttl-seconds-after-finished"},
	{ID: "polaris/priorityClassNotSet", Family: "workloads", Run: priorityClass,
		Rationale: "Polaris's rule as written: the scheduler knows what to evict first",
		Upstream:  "Polaris priorityClassNotSet"},
	{ID: "polaris/topologySpreadConstraint", Family: "workloads", Run: topologySpread,
		Rationale: "Polaris's rule as written: pods spread over zones and nodes",
		Upstream:  "Polaris topologySpreadConstraint"},
	{ID: "polaris/deploymentMissingReplicas", Family: "workloads", Run: deploymentReplicas,
		Rationale: "Polaris's rule as written: a Deployment runs more than one pod",
		Upstream:  "Polaris deploymentMissingReplicas"},
}

// resources: cpu and memory requests and limits on every container.
func resources(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			for _, kind := range []struct {
				name string
				rl   corev1.ResourceList
			}{{"requests", c.Resources.Requests}, {"limits", c.Resources.Limits}} {
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					q, ok := kind.rl[r]
					if !ok || q.IsZero() {
						out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no %s %s", c.Name, r, kind.name)})
					}
				}
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				if !req.IsZero() && !lim.IsZero() && req.Cmp(lim) > 0 {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s: %s request %s exceeds limit %s", c.Name, r, req.String(), lim.String())})
				}
			}
		}
	}
	return out
}

// probes: liveness and readiness probes on every long-running
// container (init containers and Job pods excepted).
func probes(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Job != nil {
			continue
		}
		for _, c := range p.Template.Spec.Containers {
			if c.LivenessProbe == nil {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no liveness probe", c.Name)})
			}
			if c.ReadinessProbe == nil {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no readiness probe", c.Name)})
			}
		}
	}
	return out
}

// kube-linter latest-tag's default block list, plus Polaris
// tagNotSpecified's pattern ^.+:.+$ (a digest also pins the image).
var imageBlockList = []*regexp.Regexp{
	regexp.MustCompile(`.*:(latest)$`),
	regexp.MustCompile(`^[^:]*$`),
	regexp.MustCompile(`(.*/[^:]+)$`),
}

// images: pinned image tags (not latest, not missing) and an explicit
// imagePullPolicy.
func images(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			pinned := strings.Contains(c.Image, "@sha256:")
			for _, re := range imageBlockList {
				if !pinned && re.MatchString(c.Image) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s image %q has no tag or the latest tag", c.Name, c.Image)})
					break
				}
			}
			if c.ImagePullPolicy == "" {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s has no imagePullPolicy", c.Name)})
			}
		}
	}
	return out
}

// pullPolicyAlways is Polaris pullPolicyNotAlways as written upstream.
func pullPolicyAlways(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			if c.ImagePullPolicy != corev1.PullAlways {
				out = append(out, Finding{p.ref(), fmt.Sprintf("container %s imagePullPolicy %s, Polaris wants Always", c.Name, c.ImagePullPolicy)})
			}
		}
	}
	return out
}

// apiVersions: no extensions/v1beta* objects (strict decoding would
// already reject them: the scheme does not know the group).
func apiVersions(b *Build) []Finding {
	var out []Finding
	for _, o := range b.Objects {
		gvk := o.GetObjectKind().GroupVersionKind()
		if gvk.Group == "extensions" || strings.HasPrefix(gvk.Version, "v1beta") || strings.HasPrefix(gvk.Version, "v2beta") {
			out = append(out, Finding{refOf(o), fmt.Sprintf("deprecated API %s", gvk.GroupVersion())})
		}
	}
	return out
}

// antiAffinity is kube-linter no-anti-affinity: a workload with two or
// more replicas has a pod anti-affinity term on kubernetes.io/hostname
// whose selector matches its own pods.
func antiAffinity(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Replicas == nil || *p.Replicas < 2 {
			continue
		}
		a := p.Template.Spec.Affinity
		var terms []corev1.PodAffinityTerm
		if a != nil && a.PodAntiAffinity != nil {
			terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
			for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
				terms = append(terms, w.PodAffinityTerm)
			}
		}
		good := false
		for _, t := range terms {
			sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
			if err == nil && t.TopologyKey == "kubernetes.io/hostname" && sel.Matches(labels.Set(p.Template.Labels)) {
				good = true
			}
		}
		if !good {
			out = append(out, Finding{p.ref(), fmt.Sprintf("%d replicas but no inter-pod anti-affinity on kubernetes.io/hostname", *p.Replicas)})
		}
	}
	return out
}

// jobLimits: every Job is bounded (backoffLimit, activeDeadlineSeconds);
// every CronJob never overlaps itself (concurrencyPolicy Forbid), gives up
// a missed start (startingDeadlineSeconds), keeps a bounded history, names
// its time zone, and mounts the uploaded files read-only (a backup must
// not be able to change what it backs up).
func jobLimits(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Job == nil {
			continue
		}
		if p.Job.BackoffLimit == nil {
			out = append(out, Finding{p.ref(), "no backoffLimit"})
		}
		if p.Job.ActiveDeadlineSeconds == nil {
			out = append(out, Finding{p.ref(), "no activeDeadlineSeconds: a hung run would hold its resources forever"})
		}
	}
	for _, o := range b.Objects {
		cj, ok := o.(*batchv1.CronJob)
		if !ok {
			continue
		}
		ref := refOf(o)
		s := cj.Spec
		if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			out = append(out, Finding{ref, fmt.Sprintf("concurrencyPolicy %q, want Forbid", s.ConcurrencyPolicy)})
		}
		if s.StartingDeadlineSeconds == nil {
			out = append(out, Finding{ref, "no startingDeadlineSeconds"})
		}
		if s.SuccessfulJobsHistoryLimit == nil || s.FailedJobsHistoryLimit == nil {
			out = append(out, Finding{ref, "no successfulJobsHistoryLimit or failedJobsHistoryLimit"})
		}
		if s.TimeZone == nil {
			out = append(out, Finding{ref, "no timeZone: the schedule would follow the controller's local time"})
		}
		spec := s.JobTemplate.Spec.Template.Spec
		for _, v := range spec.Volumes {
			if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "invenio-files" {
				continue
			}
			for _, c := range containers(&spec) {
				for _, m := range c.VolumeMounts {
					if m.Name == v.Name && !m.ReadOnly && !v.PersistentVolumeClaim.ReadOnly {
						out = append(out, Finding{ref, fmt.Sprintf("container %s mounts the uploaded files read-write", c.Name)})
					}
				}
			}
		}
	}
	return out
}

// jobTTL is kube-linter job-ttl-seconds-after-finished.
func jobTTL(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		switch {
		case p.Kind == "Job" && p.Job.TTLSecondsAfterFinished == nil:
			out = append(out, Finding{p.ref(), "standalone Job does not set ttlSecondsAfterFinished"})
		case p.Kind == "CronJob" && p.Job.TTLSecondsAfterFinished != nil:
			out = append(out, Finding{p.ref(), "CronJob's Job sets ttlSecondsAfterFinished"})
		}
	}
	return out
}

func priorityClass(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Template.Spec.PriorityClassName == "" {
			out = append(out, Finding{p.ref(), "priorityClassName not set"})
		}
	}
	return out
}

func topologySpread(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Job == nil && len(p.Template.Spec.TopologySpreadConstraints) == 0 {
			out = append(out, Finding{p.ref(), "no topologySpreadConstraints"})
		}
	}
	return out
}

func deploymentReplicas(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Kind == "Deployment" && *p.Replicas < 2 {
			out = append(out, Finding{p.ref(), fmt.Sprintf("replicas %d, Polaris wants at least 2", *p.Replicas)})
		}
	}
	return out
}
