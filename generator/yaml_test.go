package generator

import "bytes"

// splitDocs splits a YAML stream at its "---" separators.
func splitDocs(b []byte) [][]byte {
	var out [][]byte
	for _, part := range bytes.Split(b, []byte("\n---\n")) {
		part = bytes.TrimPrefix(part, []byte("---\n"))
		if len(bytes.TrimSpace(part)) > 0 {
			out = append(out, part)
		}
	}
	return out
}
