// Package testrepo owns the fixture repository the generator's and the
// CLI's own tests run on: the description and sealed secrets the project
// shipped with (dev, test and prod, every optional part switched on
// somewhere), kept apart from the operator's platform.yaml so that those
// tests pass whatever the operator's description says. The repository's
// own description is checked by internal/repocheck.
//
// The fixture holds platform.yaml and secrets/ only; tests generate the
// tree from them. Its sealed values were sealed with certificates whose
// keys are not kept: they prove sealing and digests, not decryption.
package testrepo

import (
	"os"
	"path/filepath"
	"runtime"
)

// Dir is the absolute path of the fixture repository.
var Dir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "repo")
}()

// Platform is the absolute path of the fixture's platform.yaml.
var Platform = filepath.Join(Dir, "platform.yaml")

// Secrets is the absolute path of the fixture's secrets/.
var Secrets = filepath.Join(Dir, "secrets")

// CopyTo copies the fixture's platform.yaml and secrets/ into dir, which
// must exist; errors are the file system's.
func CopyTo(dir string) error {
	return filepath.WalkDir(Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(Dir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
}
