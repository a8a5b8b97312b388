package export

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestPortsInExports: compose publishes [run] ports with their address
// explicit (127.0.0.1 unless given); devcontainer forwards their TCP
// container ports.
func TestPortsInExports(t *testing.T) {
	l := slurmLock("registry.example:5000/team/envs")
	l.Run.Ports = []string{"8888:8888", "0.0.0.0:6006:6006", "5353:53/udp"}
	compose, err := Render("compose", l, Options{Name: "paper"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Ports []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(compose.Content["compose.yaml"]), &doc); err != nil {
		t.Fatalf("%v\n%s", err, compose.Content["compose.yaml"])
	}
	if got, want := strings.Join(doc.Services["paper"].Ports, " "), "127.0.0.1:8888:8888 0.0.0.0:6006:6006 127.0.0.1:5353:53/udp"; got != want {
		t.Errorf("compose ports %q, want %q", got, want)
	}
	dc, err := Render("devcontainer", l, Options{Name: "paper"})
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		ForwardPorts []int `json:"forwardPorts"`
	}
	if err := json.Unmarshal([]byte(dc.Content["devcontainer.json"]), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.ForwardPorts) != 2 || d.ForwardPorts[0] != 8888 || d.ForwardPorts[1] != 6006 {
		t.Errorf("devcontainer forwardPorts %v, want [8888 6006]", d.ForwardPorts)
	}
}
