package tree

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// LockFile is the file, in the repository's root directory, whose lock
// serializes the commands that write the repository (generate and the
// secrets commands): two of them at once would each take the other's
// staged files for a crash's leftovers. It exists only while a command
// holds the lock, names that command, and is git-ignored.
const LockFile = ".platformctl.lock"

// Holder is who holds a repository's lock, as its lock file records it.
type Holder struct {
	Command string    `json:"command"` // e.g. "generate", "secrets rotate"
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"` // when it took the lock
}

// Me is this process, about to run command.
func Me(command string) Holder {
	host, _ := os.Hostname()
	return Holder{Command: command, PID: os.Getpid(), Host: host, Since: time.Now().Truncate(time.Second)}
}

// String is e.g. "platformctl generate (pid 4242 on lab-ws, since
// 2026-12-01T10:00:00Z)", or "another platformctl command" when the lock
// file does not say (its holder has not written it yet).
func (h Holder) String() string {
	if h.PID == 0 {
		return "another platformctl command"
	}
	return fmt.Sprintf("platformctl %s (pid %d on %s, since %s)", h.Command, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

func (h Holder) marshal() []byte {
	b, _ := json.Marshal(h) // a struct of strings, ints and a time
	return append(b, '\n')
}

func unmarshalHolder(b []byte) Holder {
	var h Holder
	if json.Unmarshal(b, &h) != nil {
		return Holder{}
	}
	return h
}

// BusyError is Lock giving up: another command held the lock for all of
// the wait.
type BusyError struct {
	Dir    string
	Holder Holder
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s is being written by %s; waited %s: run the command again when it has finished (its lock, %s, is released when that process ends)",
		e.Dir, e.Holder, e.Waited, fmtLockFile(e.Dir))
}
