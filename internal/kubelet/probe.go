package kubelet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeOnce runs one probe of a container the way the kubelet does: exec
// in the container, HTTP GET or TCP connect from the node to the pod's IP.
// It returns nil on success.
func (p *Pod) probeOnce(ctx context.Context, c *corev1.Container, pr *process, probe *corev1.Probe) error {
	timeout := time.Duration(probe.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch h := probe.ProbeHandler; {
	case h.Exec != nil:
		res, err := pr.exec(ctx, h.Exec.Command, nil)
		if err != nil {
			return err
		}
		if res.TimedOut {
			return fmt.Errorf("command timed out after %s", timeout)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("exit code %d: %s", res.ExitCode, strings.TrimSpace(res.Stdout+res.Stderr))
		}
		return nil
	case h.HTTPGet != nil:
		port, err := containerPort(c, h.HTTPGet.Port)
		if err != nil {
			return err
		}
		host := p.IP.String()
		if h.HTTPGet.Host != "" {
			host = h.HTTPGet.Host
		}
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + h.HTTPGet.Path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/1.32")
		for _, hd := range h.HTTPGet.HTTPHeaders {
			req.Header.Set(hd.Name, hd.Value)
		}
		resp, err := p.node.HTTPClient().Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case h.TCPSocket != nil:
		port, err := containerPort(c, h.TCPSocket.Port)
		if err != nil {
			return err
		}
		conn, err := p.node.Dial(ctx, "tcp", net.JoinHostPort(p.IP.String(), strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return fmt.Errorf("container %s: probe handler not supported here", c.Name)
}

// containerPort resolves a probe's port, by number or by the container
// port's name.
func containerPort(c *corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %s has no port named %q", c.Name, port.StrVal)
}

// probeTiming returns the probe's period, initial delay and failure
// threshold with the API's defaults.
func probeTiming(pr *corev1.Probe) (period, delay time.Duration, failures int) {
	period, failures = 10*time.Second, 3
	if pr.PeriodSeconds > 0 {
		period = time.Duration(pr.PeriodSeconds) * time.Second
	}
	if pr.FailureThreshold > 0 {
		failures = int(pr.FailureThreshold)
	}
	return period, time.Duration(pr.InitialDelaySeconds) * time.Second, failures
}
