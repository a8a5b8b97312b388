package docker

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// contextHost returns the engine endpoint of the current docker context
// (DOCKER_CONTEXT, else currentContext in ~/.docker/config.json), as the
// docker CLI does, or "" for the default context. DOCKER_HOST, when set,
// wins and is left to the client.
func contextHost() (string, error) {
	if os.Getenv("DOCKER_HOST") != "" {
		return "", nil
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nil
		}
		dir = filepath.Join(home, ".docker")
	}
	name := os.Getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			json.Unmarshal(b, &cfg)
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return "", nil
	}
	meta := filepath.Join(dir, "contexts", "meta", fmt.Sprintf("%x", sha256.Sum256([]byte(name))), "meta.json")
	b, err := os.ReadFile(meta)
	if err != nil {
		return "", fmt.Errorf("docker context %q: %w (see `docker context ls`)", name, err)
	}
	var m struct {
		Endpoints map[string]struct {
			Host string `json:"Host"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("docker context %q: %s: %w", name, meta, err)
	}
	return m.Endpoints["docker"].Host, nil
}
