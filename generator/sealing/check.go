package sealing

import (
	"fmt"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
)

// Report compares the keys the manifests read with what is sealed.
type Report struct {
	// Sealed are the required keys that have a sealed value where they are read.
	Sealed []Key
	// Missing are the required keys without a sealed value.
	Missing []Key
	// Misplaced are SealedSecrets bound to another name, namespace or scope
	// than the one the manifests read: the controller cannot decrypt them
	// into the Secret the workloads expect. Their keys count as missing.
	Misplaced []string
	// Unreferenced are sealed keys ("<secret>/<key>") that no manifest reads.
	Unreferenced []string
}

// OK reports whether every required key is sealed where it is read.
func (r Report) OK() bool { return len(r.Missing) == 0 && len(r.Misplaced) == 0 }

// Err describes what is missing or misplaced, or is nil.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	var parts []string
	if len(r.Missing) > 0 {
		var l []string
		for _, k := range r.Missing {
			l = append(l, k.String())
		}
		parts = append(parts, "not sealed: "+strings.Join(l, ", "))
	}
	parts = append(parts, r.Misplaced...)
	return fmt.Errorf("%s", strings.Join(parts, "; "))
}

// Check compares required (the keys the manifests read) with sealed (by
// Secret name, as ReadDir returns them).
func Check(required []Key, sealed map[string]*ssv1alpha1.SealedSecret) Report {
	var r Report
	want := map[string]bool{}
	misplaced := map[string]bool{}
	for _, k := range required {
		want[k.String()] = true
		ss := sealed[k.Target.Name]
		if ss == nil {
			r.Missing = append(r.Missing, k)
			continue
		}
		if err := Compatible(ss, k.Target); err != nil {
			if !misplaced[k.Target.Name] {
				misplaced[k.Target.Name] = true
				r.Misplaced = append(r.Misplaced, fmt.Sprintf("%s: %v", FileName(k.Target.Name), err))
			}
			r.Missing = append(r.Missing, k)
			continue
		}
		if _, ok := ss.Spec.EncryptedData[k.Key]; !ok {
			r.Missing = append(r.Missing, k)
			continue
		}
		r.Sealed = append(r.Sealed, k)
	}
	for name, ss := range sealed {
		for key := range ss.Spec.EncryptedData {
			if !want[name+"/"+key] {
				r.Unreferenced = append(r.Unreferenced, name+"/"+key)
			}
		}
	}
	sort.Strings(r.Unreferenced)
	sort.Strings(r.Misplaced)
	return r
}
