package runner

import (
	"encoding/base64"
	"encoding/json"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// registryAuth returns the X-Registry-Auth value for a repository, from
// docker's config and credential helpers, as the docker CLI sends it. The
// credentials go to the engine only; they are never logged or returned in
// an error.
func registryAuth(repository string) string {
	repo, err := name.NewRepository(repository)
	if err != nil {
		return ""
	}
	a, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil || a == authn.Anonymous {
		return ""
	}
	cfg, err := a.Authorization()
	if err != nil {
		return ""
	}
	b, err := json.Marshal(map[string]string{
		"username": cfg.Username, "password": cfg.Password, "auth": cfg.Auth,
		"identitytoken": cfg.IdentityToken, "registrytoken": cfg.RegistryToken,
		"serveraddress": repo.RegistryStr(),
	})
	if err != nil {
		return ""
	}
	return base64.URLEncoding.EncodeToString(b)
}
