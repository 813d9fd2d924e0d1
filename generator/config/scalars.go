package config

import (
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The scalar types below check their value while the file is decoded, so
// an error can name the exact line. Each message says what to write instead.

// fieldError is a problem at one line of the description.
type fieldError struct {
	Line int
	Msg  string
}

func (e *fieldError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// bad reports a value problem so that yaml.v3 records it and goes on
// decoding (it stops at any error that is not a *yaml.TypeError): one run
// shows every bad value of the file.
func bad(line int, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{(&fieldError{line, fmt.Sprintf(format, args...)}).Error()}}
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", bad(n.Line, "%s must be a single value, not a %s", what, kindName(n.Kind))
	}
	return n.Value, nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// DNSLabel is a lower-case RFC 1123 label (names, namespaces, environments).
type DNSLabel string

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *DNSLabel) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a name")
	if err != nil {
		return err
	}
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return bad(n.Line, "%q is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. %q)", v, suggestLabel(v))
	}
	*d = DNSLabel(v)
	return nil
}

// DNSName is a lower-case RFC 1123 subdomain (host names, object names).
type DNSName string

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *DNSName) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a DNS name")
	if err != nil {
		return err
	}
	if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
		return bad(n.Line, "%q is not a DNS name: use lower-case letters, digits, '-' and '.', e.g. %q", v, suggestName(v))
	}
	*d = DNSName(v)
	return nil
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)
var nonName = regexp.MustCompile(`[^a-z0-9.-]+`)

// suggestLabel turns v into a valid DNS label to suggest in a message:
// lower case, anything else a '-', at most 63 characters, starting and
// ending with a letter or digit; "invenio" when nothing of v is left.
func suggestLabel(v string) string {
	if s := cleanLabel(nonLabel.ReplaceAllString(strings.ToLower(v), "-")); s != "" && len(validation.IsDNS1123Label(s)) == 0 {
		return s
	}
	return "invenio"
}

// cleanLabel trims '-' from both ends of s and cuts it to 63 characters.
func cleanLabel(s string) string {
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	return s
}

// suggestName turns v into a valid DNS name (RFC 1123 subdomain) to
// suggest in a message: each label as suggestLabel makes it, empty
// labels dropped (a.b..c → a.b.c), at most 253 characters (the labels
// nearest the end kept); "invenio.example.org" when nothing of v is left.
func suggestName(v string) string {
	var labels []string
	for _, l := range strings.Split(nonName.ReplaceAllString(strings.ToLower(v), "-"), ".") {
		if l = cleanLabel(l); l != "" {
			labels = append(labels, l)
		}
	}
	for len(labels) > 1 && len(strings.Join(labels, ".")) > 253 {
		labels = labels[1:]
	}
	if s := strings.Join(labels, "."); s != "" && len(validation.IsDNS1123Subdomain(s)) == 0 {
		return s
	}
	return "invenio.example.org"
}

// ImageRepository is an image name without tag or digest.
type ImageRepository string

var repoPattern = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *ImageRepository) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "an image repository")
	if err != nil {
		return err
	}
	// The container runtime's reading of the reference, not a pattern of
	// ours: "redis:7" and "localhost:5000" are a name and a tag to it.
	named, perr := reference.ParseNormalizedNamed(v)
	if host, port, ok := strings.Cut(v, ":"); ok && !strings.Contains(v, "/") && isDigits(port) {
		return bad(n.Line, "%q is read by the container runtime as image %q with tag %q: put the tag in the tag field (repository: %q), or, if %s is a registry, add the image's path (e.g. %s/lbnl/invenio)", v, host, port, host, v, v)
	}
	if perr == nil && !reference.IsNameOnly(named) || strings.Contains(v, "@") {
		return bad(n.Line, "image repository %q must not carry a tag or digest: put the tag in the tag field (repository: %q, tag: %q)", v, strings.SplitN(strings.SplitN(v, "@", 2)[0], ":", 2)[0], "…")
	}
	if perr != nil || !repoPattern.MatchString(v) {
		return bad(n.Line, "%q is not an image repository: use lower-case registry/path, e.g. ghcr.io/lbnl/invenio", v)
	}
	*r = ImageRepository(v)
	return nil
}

// ImageTag is a pinned image tag.
type ImageTag string

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *ImageTag) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "an image tag")
	if err != nil {
		return err
	}
	if v == "latest" {
		return bad(n.Line, `image tag "latest" is not reproducible: pin a release tag such as "v12.0.10"`)
	}
	if !tagPattern.MatchString(v) {
		return bad(n.Line, "%q is not an image tag: use letters, digits, '_', '.' and '-' (at most 128), e.g. \"v12.0.10\"", v)
	}
	*t = ImageTag(v)
	return nil
}

// Quantity is a positive Kubernetes resource quantity (CPU, memory, size).
type Quantity struct{ resource.Quantity }

// maxQuantity is the largest quantity the API server takes as it is:
// it reads quantities in thousandths (MilliValue, an int64), so above
// (2^63-1)/1000 (about 8Pi) a size turns into garbage — the API server
// warns `fractional byte value "9Pi" is invalid` — and past 2^63-1
// ParseQuantity silently caps the value.
var maxQuantity = *resource.NewQuantity(math.MaxInt64/1000, resource.DecimalSI)

// Q parses a quantity that is known to be good (defaults, tests).
func Q(s string) Quantity { return Quantity{resource.MustParse(s)} }

// IsZero reports an unset quantity.
func (q Quantity) IsZero() bool { return q.Quantity.IsZero() }

// UnmarshalYAML implements yaml.Unmarshaler.
func (q *Quantity) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a quantity")
	if err != nil {
		return err
	}
	p, err := resource.ParseQuantity(v)
	if err != nil {
		return bad(n.Line, "%q is not a Kubernetes quantity: write e.g. 500m or 2 for CPU, 512Mi or 100Gi for memory and storage", v)
	}
	if p.Sign() <= 0 {
		return bad(n.Line, "%q must be greater than zero", v)
	}
	if p.Cmp(maxQuantity) > 0 {
		return bad(n.Line, "%q is more than any node or volume has, and more than the API server reads correctly (at most 8Pi: it counts in thousandths in 64 bits): a unit mistake? e.g. 100Gi", v)
	}
	q.Quantity = p
	return nil
}

// MarshalYAML implements yaml.Marshaler (for the reference docs).
func (q Quantity) MarshalYAML() (any, error) { return q.String(), nil }

// Replicas is a small non-negative count.
type Replicas int32

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Replicas) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a count")
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i > 100 {
		return bad(n.Line, "%q is not a count: write a whole number from 0 to 100", v)
	}
	*r = Replicas(i)
	return nil
}

// CIDR is an IPv4 or IPv6 network in CIDR notation.
type CIDR string

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *CIDR) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a network")
	if err != nil {
		return err
	}
	_, ipnet, err := net.ParseCIDR(v)
	if err != nil {
		return bad(n.Line, "%q is not a network in CIDR notation: write e.g. 198.128.0.0/16", v)
	}
	if ipnet.String() != v {
		return bad(n.Line, "%q has host bits set: write the network %q", v, ipnet.String())
	}
	*c = CIDR(v)
	return nil
}

// LogLevel is a Python logging level name.
type LogLevel string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *LogLevel) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a log level")
	if err != nil {
		return err
	}
	switch v {
	case "DEBUG", "INFO", "WARNING", "ERROR":
		*l = LogLevel(v)
		return nil
	}
	return bad(n.Line, "%q is not a log level: write DEBUG, INFO, WARNING or ERROR", v)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (m *AuthMode) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a login mode")
	if err != nil {
		return err
	}
	switch AuthMode(v) {
	case AuthPassword, AuthSAML:
		*m = AuthMode(v)
		return nil
	}
	return bad(n.Line, "%q is not a login mode: write password or saml", v)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (x *Exposure) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "an exposure")
	if err != nil {
		return err
	}
	switch Exposure(v) {
	case ExposureGateway, ExposureIngress, ExposureBoth, ExposureRoute:
		*x = Exposure(v)
		return nil
	}
	return bad(n.Line, "%q is not an exposure: write gateway (Gateway API), ingress (an Ingress for an ingress controller), both (side by side, while migrating) or route (an OpenShift Route)", v)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (x *Distribution) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a distribution")
	if err != nil {
		return err
	}
	switch Distribution(v) {
	case DistributionKubernetes, DistributionOpenShift:
		*x = Distribution(v)
		return nil
	}
	return bad(n.Line, "%q is not a distribution: write kubernetes or openshift", v)
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *SealingScope) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a sealing scope")
	if err != nil {
		return err
	}
	switch SealingScope(v) {
	case ScopeStrict, ScopeNamespaceWide, ScopeClusterWide:
		*s = SealingScope(v)
		return nil
	}
	return bad(n.Line, "%q is not a sealing scope: write strict, namespace-wide or cluster-wide", v)
}

// GitURL is a repository URL Flux's GitRepository accepts.
type GitURL string

// UnmarshalYAML implements yaml.Unmarshaler.
func (g *GitURL) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a repository URL")
	if err != nil {
		return err
	}
	u, perr := url.Parse(v)
	if perr != nil || (u.Scheme != "ssh" && u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path == "" {
		fix := "ssh://git@github.com/org/repo.git or https://github.com/org/repo.git"
		if host, path, ok := strings.Cut(v, ":"); ok && strings.Contains(host, "@") && !strings.Contains(v, "://") {
			fix = "ssh://" + host + "/" + path + " (Flux does not take the scp-like form)"
		}
		return bad(n.Line, "%q is not a repository URL Flux can clone: write %s", v, fix)
	}
	*g = GitURL(v)
	return nil
}

// GitRef is a branch name.
type GitRef string

var gitRef = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (g *GitRef) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a branch")
	if err != nil {
		return err
	}
	if !gitRef.MatchString(v) || strings.Contains(v, "..") || strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.HasSuffix(v, ".lock") {
		return bad(n.Line, "%q is not a branch name: use letters, digits, '.', '_', '-' and '/', e.g. main", v)
	}
	*g = GitRef(v)
	return nil
}

// Duration is a Flux interval: a Go duration of h, m, s or ms.
type Duration string

var fluxDuration = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a duration")
	if err != nil {
		return err
	}
	dur, perr := time.ParseDuration(v)
	if perr != nil || !fluxDuration.MatchString(v) || dur <= 0 {
		return bad(n.Line, "%q is not a duration: write a positive number with h, m, s or ms, e.g. 10m or 1h30m", v)
	}
	// Written back as metav1.Duration prints it: below a millisecond that
	// is ns or µs, which the Flux CRDs' pattern refuses.
	if dur%time.Millisecond != 0 {
		return bad(n.Line, "%q is not a whole number of milliseconds: Flux takes h, m, s and ms only; write e.g. 10m or 500ms", v)
	}
	*d = Duration(v)
	return nil
}

// Email is an e-mail address.
type Email string

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *Email) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "an e-mail address")
	if err != nil {
		return err
	}
	a, perr := mail.ParseAddress(v)
	if perr != nil || a.Address != v || a.Name != "" {
		return bad(n.Line, "%q is not an e-mail address: write just the address, e.g. ops@example.org", v)
	}
	*e = Email(v)
	return nil
}

// HTTPSURL is an https:// URL.
type HTTPSURL string

// UnmarshalYAML implements yaml.Unmarshaler.
func (h *HTTPSURL) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a URL")
	if err != nil {
		return err
	}
	u, perr := url.Parse(v)
	if perr != nil || u.Scheme != "https" || u.Host == "" {
		return bad(n.Line, "%q is not an https:// URL", v)
	}
	if u.User != nil {
		return bad(n.Line, "%q holds credentials (user:password@): they would be written to git in plain text; remove them (credentials go in a sealed Secret)", u.Redacted())
	}
	*h = HTTPSURL(v)
	return nil
}

// ChartVersion is a Helm chart version (SemVer 2, an optional leading v).
type ChartVersion string

var semver = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *ChartVersion) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a chart version")
	if err != nil {
		return err
	}
	if !semver.MatchString(v) {
		return bad(n.Line, "%q is not a pinned chart version: write an exact version such as 1.2.3 (no ranges: a range would change what is installed without a commit)", v)
	}
	*c = ChartVersion(v)
	return nil
}

// Percent is a whole percentage from 1 to 100.
type Percent int32

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a percentage")
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil || i < 1 || i > 100 {
		return bad(n.Line, "%q is not a percentage: write a whole number from 1 to 100, e.g. 70", v)
	}
	*p = Percent(i)
	return nil
}

// Cron is a CronJob schedule, accepted exactly when the API server accepts
// it: robfig/cron's standard parser (five fields minute hour day-of-month
// month day-of-week, or a descriptor such as @daily) and no TZ or CRON_TZ
// prefix (k8s.io/kubernetes pkg/apis/batch/validation validateScheduleFormat,
// which our clusters run without a timeZone field). A schedule that never
// fires (30 February) is accepted by the API server but refused here: a
// backup that never runs is not a backup.
type Cron string

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Cron) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a cron schedule")
	if err != nil {
		return err
	}
	if msg := checkCron(v); msg != "" {
		return bad(n.Line, "%q %s; write minute hour day-of-month month day-of-week (0-6, Sunday is 0), e.g. \"0 2 * * *\" for 02:00 UTC every day", v, msg)
	}
	*c = Cron(v)
	return nil
}

// cronEpoch is where the search for a firing time starts: robfig's Next
// gives up after five years, which still holds a leap day (2004).
var cronEpoch = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

func checkCron(v string) string {
	if strings.Contains(v, "TZ") {
		return "is refused by the API server: a schedule cannot hold TZ or CRON_TZ (schedules run in UTC here)"
	}
	s, err := cron.ParseStandard(v)
	if err != nil {
		return "is not a schedule the API server accepts: " + err.Error()
	}
	if s.Next(cronEpoch).IsZero() {
		return "never fires: no date matches it"
	}
	return ""
}

// Count is a retention count, 1 to 3650.
type Count int32

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *Count) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a count")
	if err != nil {
		return err
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 1 || i > 3650 {
		return bad(n.Line, "%q is not a count from 1 to 3650: keep at least one backup, e.g. 30", v)
	}
	*c = Count(i)
	return nil
}

// BucketName is an S3 bucket name: 3 to 63 lower-case letters, digits,
// '.' and '-', starting and ending with a letter or digit, no "..", not
// an IP address.
type BucketName string

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *BucketName) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a bucket name")
	if err != nil {
		return err
	}
	if !bucketPattern.MatchString(v) || strings.Contains(v, "..") || net.ParseIP(v) != nil {
		return bad(n.Line, "%q is not an S3 bucket name: use 3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, e.g. %q", v, "invenio-backups")
	}
	*b = BucketName(v)
	return nil
}

// S3Prefix is a path inside a bucket: segments of letters, digits, '.',
// '_' and '-' separated by '/', without a leading or trailing '/'.
type S3Prefix string

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *S3Prefix) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a path")
	if err != nil {
		return err
	}
	if !prefixPattern.MatchString(v) || strings.Contains("/"+v+"/", "/../") || strings.Contains("/"+v+"/", "/./") {
		return bad(n.Line, "%q is not a path inside a bucket: use segments of letters, digits, '.', '_' and '-' separated by '/', without a leading or trailing '/', e.g. %q", v, "invenio/prod")
	}
	*p = S3Prefix(v)
	return nil
}

// Timeout is how long a hop waits with no byte moving: a Go (and
// Kubernetes) duration such as 180s or 3m, of whole seconds from 1s to 1h
// (nginx and uWSGI count timeouts in seconds).
type Timeout string

// The range of a Timeout.
const (
	minTimeout = time.Second
	maxTimeout = time.Hour
)

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *Timeout) UnmarshalYAML(n *yaml.Node) error {
	v, err := scalar(n, "a duration")
	if err != nil {
		return err
	}
	d, perr := time.ParseDuration(v)
	switch {
	case perr != nil:
		return bad(n.Line, "%q is not a duration: write a number with its unit, s, m or h, e.g. 180s or 3m", v)
	case d < minTimeout:
		return bad(n.Line, "%q is shorter than 1s: a client or server that pauses that briefly would be cut off; write a duration from 1s to 1h, e.g. 180s", v)
	case d > maxTimeout:
		return bad(n.Line, "%q is longer than 1h: a connection silent that long is dead and only holds a uWSGI thread; write a duration from 1s to 1h, e.g. 180s", v)
	case d%time.Second != 0:
		return bad(n.Line, "%q is not a whole number of seconds: nginx and uWSGI count timeouts in seconds; write %s", v, d.Round(time.Second))
	}
	*t = Timeout(v)
	return nil
}

// Seconds is the timeout in whole seconds.
func (t Timeout) Seconds() int64 {
	d, err := time.ParseDuration(string(t))
	if err != nil || d%time.Second != 0 {
		panic(fmt.Sprintf("config: unvalidated timeout %q", t)) // UnmarshalYAML rejects these
	}
	return int64(d / time.Second)
}

func isDigits(s string) bool {
	_, err := strconv.ParseUint(s, 10, 16)
	return err == nil
}
