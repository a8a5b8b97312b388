package schema

import (
	"strings"
	"testing"
)

func TestParsePorts(t *testing.T) {
	for spec, want := range map[string]string{
		"8888:8888":           "127.0.0.1:8888:8888",
		"8888":                "127.0.0.1::8888",
		"0.0.0.0:8080:80/tcp": "0.0.0.0:8080:80",
		"127.0.0.1:6006:6006": "127.0.0.1:6006:6006",
		"5353:53/udp":         "127.0.0.1:5353:53/udp",
		"[::1]:9000:9000":     "[::1]:9000:9000",
		"8000-8001:9000-9001": "127.0.0.1:8000:9000 127.0.0.1:8001:9001",
	} {
		ports, err := ParsePorts([]string{spec})
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		var got []string
		for _, p := range ports {
			got = append(got, p.Spec())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s publishes %v, want %s", spec, got, want)
		}
	}
	for _, bad := range []string{"", "http", "99999:80", "8888:8888/icmp", "1.2.3:80:80", "80:80:80:80"} {
		if _, err := ParsePorts([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestPortsNeedAContainerNetwork(t *testing.T) {
	err := ValidateRun(Run{Ports: []string{"8888:8888"}, Network: "host"})
	if err == nil || !strings.Contains(err.Error(), `network = "host"`) {
		t.Errorf("ports with network = host: %v", err)
	}
	if err := ValidateRun(Run{Ports: []string{"8888:8888"}}); err != nil {
		t.Errorf("ports on the default network: %v", err)
	}
	if err := ValidateRun(Run{Ports: []string{"88x"}}); err == nil || !strings.Contains(err.Error(), "-p syntax") {
		t.Errorf("a bad port: %v", err)
	}
}
