package kubelet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// The container's root filesystem is the node's own Debian root, read-only,
// seen through a skeleton layer that adds the image's files and the mount
// points, and hides everything of the host that is not part of an
// operating system (home directories, the harness's own files, /tmp, /run).
var (
	// hostShown are the top-level entries of / a container sees.
	hostShown = map[string]bool{"bin": true, "sbin": true, "lib": true, "lib32": true, "lib64": true, "libx32": true,
		"usr": true, "etc": true, "var": true, "proc": true, "sys": true, "dev": true}
	// hostEmptied exist in a container, empty.
	hostEmptied = map[string]bool{"tmp": true, "run": true, "root": true, "home": true, "opt": true, "mnt": true, "srv": true, "media": true}
	// varEmptied are emptied below /var.
	varEmptied = []string{"tmp", "log", "lib", "cache", "spool", "mail", "backups", "opt", "local"}
)

// rootfs is one container's filesystem before it is assembled.
type rootfs struct {
	dir    string // this container's directory on the node's tmpfs
	root   string // the empty directory the overlay is mounted on
	layers []layer
	mounts []mount
}

// newRootfs lays out the skeletons of a container of img with the given
// generated /etc files and mount targets, under dir (on a tmpfs: the
// skeleton holds overlay whiteouts and opaque markers).
func newRootfs(dir string, img *Image, etc map[string]string, mounts []mount) (*rootfs, error) {
	r := &rootfs{dir: dir, root: filepath.Join(dir, "root"), mounts: append([]mount(nil), mounts...)}
	if err := os.MkdirAll(r.root, 0o755); err != nil {
		return nil, err
	}
	skel := filepath.Join(dir, "skel", "0")
	if err := os.MkdirAll(skel, 0o755); err != nil {
		return nil, err
	}
	r.layers = append(r.layers, layer{Target: "/", Skeleton: skel, Source: "/"})
	for i, l := range img.Layers {
		s := filepath.Join(dir, "skel", fmt.Sprint(i+1))
		if err := os.MkdirAll(s, 0o755); err != nil {
			return nil, err
		}
		if fi, err := os.Stat(l.Source); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("image %s: layer %s: %s is not a directory", img.Repository, l.Target, l.Source)
		}
		r.layers = append(r.layers, layer{Target: filepath.Clean(l.Target), Skeleton: s, Source: l.Source})
	}
	if err := r.hideHost(skel); err != nil {
		return nil, err
	}
	for _, f := range img.Files {
		if err := r.writeFile(f); err != nil {
			return nil, fmt.Errorf("image %s: %s: %w", img.Repository, f.Path, err)
		}
	}
	paths := make([]string, 0, len(etc))
	for p := range etc {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := r.writeFile(File{Path: p, Content: etc[p]}); err != nil {
			return nil, err
		}
	}
	// Mount points: each layer's target, then every volume.
	for _, l := range r.layers[1:] {
		if err := r.mountPoint(l.Target, true, l.Target); err != nil {
			return nil, err
		}
	}
	for i, m := range mounts {
		// The target as the container resolves it (through /var/run → /run
		// and the like): the init mounts before it enters the root, so it
		// must not follow the symlinks of the host's root.
		resolved, err := r.resolve(m.Target)
		if err != nil {
			return nil, err
		}
		r.mounts[i].Target = resolved
		isDir := true
		if m.Source != "" {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return nil, err
			}
			isDir = fi.IsDir()
		}
		if err := r.mountPoint(m.Target, isDir, ""); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// hideHost whites out the host's top-level entries a container must not see
// and empties the ones it sees empty.
func (r *rootfs) hideHost(skel string) error {
	entries, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(skel, name)
		switch {
		case hostShown[name]:
		case hostEmptied[name] && e.IsDir():
			if err := opaqueDir(p); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil { // an overlay whiteout
				return fmt.Errorf("hiding /%s: %w", name, err)
			}
		}
	}
	for _, name := range varEmptied {
		if fi, err := os.Lstat(filepath.Join("/var", name)); err == nil && fi.IsDir() {
			if err := opaqueDir(filepath.Join(skel, "var", name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdirAll makes the directories of rel below skel; a hidden host entry
// (a whiteout) on the way becomes an empty directory showing only what the
// skeleton puts there.
func mkdirAll(skel, rel string) error {
	cur := skel
	for _, part := range strings.Split(filepath.Clean(rel), "/") {
		if part == "." || part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.Mode()&os.ModeCharDevice != 0:
			if err := os.Remove(cur); err != nil {
				return err
			}
			if err := opaqueDir(cur); err != nil {
				return err
			}
		case err == nil:
		case os.IsNotExist(err):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

func opaqueDir(p string) error {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	return unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0)
}

// skeletonFor returns the skeleton directory and the path inside it that
// shows at container path p: the innermost layer holding p.
func (r *rootfs) skeletonFor(p string) (skel, rel string) {
	best := r.layers[0]
	for _, l := range r.layers[1:] {
		if (p == l.Target || strings.HasPrefix(p, l.Target+"/")) && len(l.Target) > len(best.Target) {
			best = l
		}
	}
	rel, _ = filepath.Rel(best.Target, p)
	return best.Skeleton, rel
}

// sourceFor is the host path that shows at container path p below its
// layer (where the skeleton has nothing).
func (r *rootfs) sourceFor(p string) string {
	best := r.layers[0]
	for _, l := range r.layers[1:] {
		if (p == l.Target || strings.HasPrefix(p, l.Target+"/")) && len(l.Target) > len(best.Target) {
			best = l
		}
	}
	rel, _ := filepath.Rel(best.Target, p)
	return filepath.Join(best.Source, rel)
}

// resolve follows symlinks of the merged view in the container path p (as
// runc resolves a mount target inside the rootfs), the last component
// included.
func (r *rootfs) resolve(p string) (string, error) {
	parts := strings.Split(strings.Trim(filepath.Clean(p), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		next := filepath.Join(cur, parts[0])
		parts = parts[1:]
		target, ok := r.readlink(next)
		if !ok {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many symbolic links", p)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(filepath.Clean(target), "/"), "/"), parts...)
		cur = "/"
	}
	return cur, nil
}

// readlink reads p as a symlink in the merged view: the skeleton first,
// then the host.
func (r *rootfs) readlink(p string) (string, bool) {
	skel, rel := r.skeletonFor(p)
	if fi, err := os.Lstat(filepath.Join(skel, rel)); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return "", false
		}
		t, err := os.Readlink(filepath.Join(skel, rel))
		return t, err == nil
	}
	src := r.sourceFor(p)
	if fi, err := os.Lstat(src); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		t, err := os.Readlink(src)
		return t, err == nil
	}
	return "", false
}

// mountPoint makes container path p exist (a directory, or an empty file)
// in the skeleton of the layer that shows it. A layer's own target is
// created in the layer below it (skipLayer).
func (r *rootfs) mountPoint(p string, isDir bool, skipLayer string) error {
	resolved, err := r.resolve(p)
	if err != nil {
		return err
	}
	var skel, rel string
	if skipLayer != "" {
		// The layer's mount point lives in the layers below it.
		saved := r.layers
		var below []layer
		for _, l := range r.layers {
			if l.Target != skipLayer {
				below = append(below, l)
			}
		}
		r.layers = below
		skel, rel = r.skeletonFor(resolved)
		r.layers = saved
	} else {
		skel, rel = r.skeletonFor(resolved)
	}
	full := filepath.Join(skel, rel)
	if isDir {
		return mkdirAll(skel, rel)
	}
	if err := mkdirAll(skel, filepath.Dir(rel)); err != nil {
		return err
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// writeFile adds an image file, generated /etc file, directory or symlink.
func (r *rootfs) writeFile(f File) error {
	p, err := r.resolveParent(f.Path)
	if err != nil {
		return err
	}
	skel, rel := r.skeletonFor(p)
	full := filepath.Join(skel, rel)
	if err := mkdirAll(skel, filepath.Dir(rel)); err != nil {
		return err
	}
	switch {
	case f.Symlink != "":
		return os.Symlink(f.Symlink, full)
	case f.Dir:
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o755
		}
		if f.Opaque {
			if err := opaqueDir(full); err != nil {
				return err
			}
		} else if err := os.MkdirAll(full, mode); err != nil {
			return err
		}
		return os.Chmod(full, mode)
	default:
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(full, []byte(f.Content), mode); err != nil {
			return err
		}
		return os.Chmod(full, mode)
	}
}

// resolveParent resolves the directory part of p, keeping its last name.
func (r *rootfs) resolveParent(p string) (string, error) {
	dir, err := r.resolve(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(p)), nil
}
