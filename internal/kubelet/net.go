package kubelet

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// network is the node's pod network: a network namespace of its own (the
// "node") holding a bridge, and one namespace per pod joined to it by a
// veth pair. Nothing is routed out of it: a pod reaches the other pods
// and nothing else, and the harness reaches the pods from the node's
// namespace (Dial). IPv6 is off in pods, as on an IPv4-only node.
type network struct {
	id     string // short random id: names of namespaces and links
	subnet [3]byte
	mu     sync.Mutex
	next   byte
	pods   map[string]string // netns name by slot
	ips    map[string]net.IP // by slot
}

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newNetwork() (*network, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	n := &network{id: fmt.Sprintf("%x", b), next: 10, pods: map[string]string{}, ips: map[string]net.IP{}}
	// 10.<random>.<random>.0/24: a private range unlikely to meet the host's.
	n.subnet = [3]byte{10, 100 + b[0]%100, b[1]}
	ns := n.nodeNS()
	if err := ipCmd("netns", "add", ns); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "br0", "type", "bridge"},
		{"-n", ns, "addr", "add", n.gateway().String() + "/24", "dev", "br0"},
		{"-n", ns, "link", "set", "br0", "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			n.close()
			return nil, err
		}
	}
	return n, nil
}

func (n *network) nodeNS() string { return "kl-" + n.id }

func (n *network) nsPath(name string) string { return "/run/netns/" + name }

func (n *network) gateway() net.IP { return net.IPv4(n.subnet[0], n.subnet[1], n.subnet[2], 1) }

// ip returns the address of a pod slot (a workload's one pod), allocating
// it on first use: a replacement pod of the same workload keeps it, as a
// Service keeps its ClusterIP.
func (n *network) ip(slot string) net.IP {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, ok := n.ips[slot]; ok {
		return ip
	}
	ip := net.IPv4(n.subnet[0], n.subnet[1], n.subnet[2], n.next)
	n.next++
	n.ips[slot] = ip
	return ip
}

// podNS returns the network namespace of a slot, creating it (and its
// veth into the bridge) on first use.
func (n *network) podNS(slot string) (string, error) {
	n.mu.Lock()
	name, ok := n.pods[slot]
	n.mu.Unlock()
	if ok {
		return n.nsPath(name), nil
	}
	ip := n.ip(slot)
	n.mu.Lock()
	name = fmt.Sprintf("kl-%s-%d", n.id, ip.To4()[3])
	n.pods[slot] = name
	n.mu.Unlock()
	host, peer := fmt.Sprintf("v%s%d", n.id, ip.To4()[3]), "eth0"
	steps := [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", n.nodeNS(), "link", "add", host, "type", "veth", "peer", "name", peer, "netns", name},
		{"-n", n.nodeNS(), "link", "set", host, "master", "br0", "up"},
		{"-n", name, "addr", "add", ip.String() + "/24", "dev", peer},
		{"-n", name, "link", "set", peer, "up"},
		{"-n", name, "route", "add", "default", "via", n.gateway().String()},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			return "", err
		}
	}
	if err := inNetNS(n.nsPath(name), func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("1"), 0)
	}); err != nil {
		return "", fmt.Errorf("disabling IPv6 in %s: %w", name, err)
	}
	return n.nsPath(name), nil
}

func (n *network) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, name := range n.pods {
		_ = ipCmd("netns", "del", name)
	}
	_ = ipCmd("netns", "del", n.nodeNS())
}

// inNetNS runs f on a thread in the network namespace at path.
func inNetNS(path string, f func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(orig)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := f()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it exits with the goroutine instead of
		// serving others from the wrong namespace.
		return fmt.Errorf("returning from %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// dialIn opens a connection from the network namespace at path: the
// socket is made there, so it stays there.
func dialIn(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetNS(path, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// listenIn opens a listener in the network namespace at path.
func listenIn(path, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetNS(path, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}
