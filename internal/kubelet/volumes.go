package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// defaultEmptyDirSize bounds an emptyDir without a sizeLimit (on a node it
// is bounded by the node's disk; here by memory, since it is a tmpfs).
var defaultEmptyDirSize = resource.MustParse("8Gi")

// volume is one of a pod's volumes, prepared on the node.
type volume struct {
	name     string
	path     string // on the node
	readOnly bool   // ConfigMap and Secret volumes are always mounted read-only
	tmpfs    bool   // mounted by the node: unmounted when the pod goes
}

// prepareVolumes makes every volume of the pod: emptyDirs as tmpfs with
// their size limit (so their use, deleted-but-open files included, can be
// measured), claims as directories that outlive the pod, ConfigMaps and
// Secrets written the way the kubelet's atomic writer writes them.
func (p *Pod) prepareVolumes() error {
	p.volumes = map[string]*volume{}
	sc := p.spec.SecurityContext
	var fsGroup *int64
	if sc != nil {
		fsGroup = sc.FSGroup
	}
	for _, v := range p.spec.Volumes {
		dir := filepath.Join(p.dir, "volumes", v.Name)
		vol := &volume{name: v.Name, path: dir}
		switch {
		case v.EmptyDir != nil:
			size := defaultEmptyDirSize
			if v.EmptyDir.SizeLimit != nil {
				size = *v.EmptyDir.SizeLimit
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			mode, gid := uint32(0o777), int64(0)
			if fsGroup != nil {
				mode, gid = 0o2777, *fsGroup
			}
			opts := fmt.Sprintf("size=%d,mode=%o,gid=%d", size.Value(), mode, gid)
			if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
				return fmt.Errorf("pod %s: emptyDir %s: %w", p.Name, v.Name, err)
			}
			vol.tmpfs = true
		case v.PersistentVolumeClaim != nil:
			claim := v.PersistentVolumeClaim.ClaimName
			if _, ok := p.node.claims[claim]; !ok {
				return fmt.Errorf("pod %s: volume %s: PersistentVolumeClaim %s not found", p.Name, v.Name, claim)
			}
			d, err := p.node.claimDir(p, claim, fsGroup)
			if err != nil {
				return err
			}
			vol.path = d
			vol.readOnly = v.PersistentVolumeClaim.ReadOnly
		case v.ConfigMap != nil:
			cm, ok := p.node.configMaps[v.ConfigMap.Name]
			if !ok {
				return fmt.Errorf("pod %s: volume %s: ConfigMap %s not found", p.Name, v.Name, v.ConfigMap.Name)
			}
			data := map[string][]byte{}
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
			if err := writeAtomic(dir, data, v.ConfigMap.Items, v.ConfigMap.DefaultMode, fsGroup, false); err != nil {
				return fmt.Errorf("pod %s: volume %s: %w", p.Name, v.Name, err)
			}
			vol.readOnly = true
		case v.Secret != nil:
			s, ok := p.node.secrets[v.Secret.SecretName]
			if !ok {
				return fmt.Errorf("pod %s: volume %s: Secret %s not found", p.Name, v.Name, v.Secret.SecretName)
			}
			if err := writeAtomic(dir, s.Data, v.Secret.Items, v.Secret.DefaultMode, fsGroup, true); err != nil {
				return fmt.Errorf("pod %s: volume %s: %w", p.Name, v.Name, err)
			}
			vol.readOnly, vol.tmpfs = true, true
		default:
			return fmt.Errorf("pod %s: volume %s: this kind of volume is not supported here", p.Name, v.Name)
		}
		p.volumes[v.Name] = vol
	}
	return nil
}

// writeAtomic lays out a ConfigMap or Secret volume as the kubelet's
// atomic writer does: the files in a timestamped directory, "..data"
// pointing at it and one symlink per key. Secrets are on a tmpfs. With an
// fsGroup, files belong to that group and get group read (the kubelet's
// SetVolumeOwnership for read-only volumes).
func writeAtomic(dir string, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, fsGroup *int64, secret bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if secret {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=16m"); err != nil {
			return err
		}
	}
	mode := int32(0o644)
	if defaultMode != nil {
		mode = *defaultMode
	}
	type file struct {
		path string
		data []byte
		mode int32
	}
	var files []file
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			files = append(files, file{k, data[k], mode})
		}
	} else {
		for _, it := range items {
			b, ok := data[it.Key]
			if !ok {
				return fmt.Errorf("key %s not found", it.Key)
			}
			m := mode
			if it.Mode != nil {
				m = *it.Mode
			}
			files = append(files, file{it.Path, b, m})
		}
	}
	ts := "..2026_01_01_00_00_00." + fmt.Sprint(time.Now().UnixNano()%1e9)
	for _, f := range files {
		p := filepath.Join(dir, ts, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		m := fs.FileMode(f.mode)
		if err := os.WriteFile(p, f.data, m); err != nil {
			return err
		}
		if fsGroup != nil {
			if err := os.Chown(p, -1, int(*fsGroup)); err != nil {
				return err
			}
			m |= 0o440
		}
		if err := os.Chmod(p, m); err != nil {
			return err
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range files {
		top := splitFirst(f.path)
		if seen[top] {
			continue
		}
		seen[top] = true
		if err := os.Symlink(filepath.Join("..data", top), filepath.Join(dir, top)); err != nil {
			return err
		}
	}
	if fsGroup != nil {
		for _, d := range []string{dir, filepath.Join(dir, ts)} {
			if err := os.Chown(d, -1, int(*fsGroup)); err != nil {
				return err
			}
			if err := os.Chmod(d, 0o2755|0o050); err != nil {
				return err
			}
		}
	}
	return nil
}

func splitFirst(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return p
}

// claimDir is the directory of a PersistentVolumeClaim: it outlives pods.
// With an fsGroup it is given to that group the way the kubelet does when
// the root's group differs (fsGroupChangePolicy OnRootMismatch): group
// read/write on everything, setgid on directories.
func (n *Node) claimDir(p *Pod, claim string, fsGroup *int64) (string, error) {
	d := n.ClaimDir(claim)
	if err := n.provision(p, claim, d); err != nil {
		return "", err
	}
	if fsGroup == nil {
		return d, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(d, &st); err != nil {
		return "", err
	}
	if int64(st.Gid) == *fsGroup {
		return d, nil
	}
	err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(p, -1, int(*fsGroup)); err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		m := fi.Mode() | 0o060
		if e.IsDir() {
			m |= os.ModeSetgid | 0o010
		}
		return os.Chmod(p, m)
	})
	return d, err
}

// provision makes a claim's volume once per node: an ext4 file system of
// the claim's requested size (a sparse image, loop-mounted at d), as a
// provisioner makes a volume of that size. What a program reads of its
// volume (df, statfs) is then the claim's and not this machine's disk:
// OpenSearch's disk watermarks, seen blocking index creation on a crowded
// machine when the claim was a plain directory, count the claim's use.
// Where the machine cannot mount a loop device, the claim is a directory
// and the pod's events say so.
func (n *Node) provision(p *Pod, claim, d string) error {
	n.claimsMu.Lock()
	defer n.claimsMu.Unlock()
	if n.provisioned[claim] {
		return nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	n.mu.Lock()
	pvc := n.claims[claim]
	n.mu.Unlock()
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.Value() <= 0 {
		return fmt.Errorf("PersistentVolumeClaim %s requests no storage", claim)
	}
	img := d + ".img"
	err := func() error {
		// Mounted by an earlier node in this directory: d is a mount point
		// (another device than its parent's; the parent may be ext4 too).
		var st, parent unix.Stat_t
		if unix.Stat(d, &st) == nil && unix.Stat(filepath.Dir(d), &parent) == nil && st.Dev != parent.Dev {
			if _, err := os.Stat(img); err == nil {
				return nil
			}
		}
		// An image that is there and not mounted (a volume another node
		// left, attached again) is mounted as it is.
		if _, err := os.Stat(img); errors.Is(err, fs.ErrNotExist) {
			f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			err = f.Truncate(size.Value())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", img).CombinedOutput(); err != nil {
				return fmt.Errorf("mkfs.ext4: %v: %s", err, out)
			}
		}
		if out, err := exec.Command("mount", "-o", "loop,nosuid,nodev", img, d).CombinedOutput(); err != nil {
			return fmt.Errorf("mount -o loop: %v: %s", err, out)
		}
		n.mounted = append(n.mounted, d)
		return nil
	}()
	if err != nil {
		p.Eventf("claim %s is a directory on this machine's disk, not a file system of %s: %v", claim, size.String(), err)
	} else {
		p.Eventf("claim %s: an ext4 file system of %s", claim, size.String())
	}
	if n.provisioned == nil {
		n.provisioned = map[string]bool{}
	}
	n.provisioned[claim] = true
	return nil
}

// ClaimDir is where a PersistentVolumeClaim's data is on the node.
func (n *Node) ClaimDir(claim string) string { return filepath.Join(n.dir, "claims", claim) }

// AttachClaim gives the node whose directory is nodeDir (Options.Dir) the
// volume of claim that another, closed node left at from (its ClaimDir):
// its ext4 image, or the directory where loop devices cannot be mounted.
// The volume is moved, as a disk is detached and attached; the node then
// finds it when it provisions the claim, as a PersistentVolume bound
// again. Call it before that: before New, or before the first pod that
// mounts the claim.
func AttachClaim(nodeDir, claim, from string) error {
	to := filepath.Join(nodeDir, "claims", claim)
	if _, err := os.Stat(from + ".img"); err == nil {
		from, to = from+".img", to+".img"
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("attaching claim %s: %w", claim, err)
	}
	return nil
}

// releaseVolumes unmounts the pod's tmpfs volumes (their content goes
// with the pod, as an emptyDir's does).
func (p *Pod) releaseVolumes() {
	for _, v := range p.volumes {
		if v.tmpfs {
			_ = unix.Unmount(v.path, unix.MNT_DETACH)
		}
	}
}

// VolumeUsage reports the bytes in use on an emptyDir of the pod, deleted
// files still held open included (statfs of its tmpfs).
func (p *Pod) VolumeUsage(name string) (int64, error) {
	v, ok := p.volumes[name]
	if !ok || !v.tmpfs {
		return 0, fmt.Errorf("pod %s has no emptyDir %s", p.Name, name)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(v.path, &st); err != nil {
		return 0, err
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, nil
}
