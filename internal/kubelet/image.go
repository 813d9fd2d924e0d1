package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Image stands in for a container image: what its filesystem adds to the
// node's Debian root, and its configuration (ENTRYPOINT, CMD, WORKDIR,
// ENV), so that a container of it runs the real program the image holds,
// installed here instead.
type Image struct {
	// Repository is the image name without tag, as pods spell it
	// (e.g. "postgres", "opensearchproject/opensearch").
	Repository string
	// Tags are the tags this stand-in answers for; Runs says what really
	// runs (e.g. "PostgreSQL 15.18 from Debian 12") and differs from the
	// tag where the same major version is not to be had here.
	Tags []string
	Runs string

	Entrypoint []string
	Cmd        []string
	// StopSignal is the image's STOPSIGNAL (default SIGTERM): what the
	// runtime sends a container first when the kubelet stops it.
	StopSignal string
	WorkingDir string
	// Env is the image's ENV, in order; the container's env overrides it.
	Env []string
	// UID and GID the image's USER names; pods here always set runAsUser.
	Users  []User
	Groups []Group

	// Layers show host directories read-only at a path of the image
	// (a Python virtualenv, OpenSearch's home, a built site).
	Layers []Layer
	// Files are what the image has that the host has not (or has
	// differently): configuration files, scripts, symlinks and empty
	// directories. A directory marked Opaque hides the host's content.
	Files []File
}

// User is one /etc/passwd entry of an image.
type User struct {
	Name     string
	UID, GID int64
	Home     string
	Shell    string
}

// Group is one /etc/group entry of an image.
type Group struct {
	Name string
	GID  int64
}

// Layer shows the host directory Source read-only at Target.
type Layer struct {
	Target, Source string
}

// File is one path of an image's filesystem.
type File struct {
	Path    string
	Content string
	Mode    uint32 // 0 means 0644 for files, 0755 for directories
	Dir     bool
	Opaque  bool   // a directory that hides the host's entries below it
	Symlink string // target, for a symlink
}

// stopSignal is the signal the runtime stops a container of img with.
func (img *Image) stopSignal() (syscall.Signal, error) {
	if img.StopSignal == "" {
		return syscall.SIGTERM, nil
	}
	n := unix.SignalNum(img.StopSignal)
	if n == 0 {
		return 0, fmt.Errorf("image %s: unknown STOPSIGNAL %s", img.Repository, img.StopSignal)
	}
	return n, nil
}

// Images finds the stand-in for an image reference: keyed by repository,
// or by "repository:tag" where one tag of a repository holds another
// program than the others (two releases of the site's image).
type Images map[string]*Image

// Resolve returns the stand-in for ref ("repo:tag"): the one keyed by the
// whole reference if there is one, else the repository's. An image without
// a stand-in, or with a tag the stand-in does not answer for, is an error
// naming it: the harness never skips a container it cannot run.
func (is Images) Resolve(ref string) (*Image, error) {
	repo, tag := splitRef(ref)
	if img, ok := is[repo+":"+tag]; ok {
		return img, nil
	}
	img, ok := is[repo]
	if !ok {
		names := make([]string, 0, len(is))
		for n := range is {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("image %s: no stand-in for %q here (known: %s)", ref, repo, strings.Join(names, ", "))
	}
	for _, t := range img.Tags {
		if t == tag || t == "*" {
			return img, nil
		}
	}
	return nil, fmt.Errorf("image %s: the stand-in for %s answers for tags %v, not %q", ref, repo, img.Tags, tag)
}

// splitRef splits "registry/repo:tag" into repository and tag ("latest"
// when absent); a digest is kept as the tag.
func splitRef(ref string) (repo, tag string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}
