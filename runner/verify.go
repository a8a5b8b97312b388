package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mlenv/mlenv/lock"
	"github.com/mlenv/mlenv/runner/indexauth"
)

// VerifyEnv installs l's environment afresh for this engine's platform and
// checks that its venv holds exactly the locked packages.
func (e *Engine) VerifyEnv(ctx context.Context, l *lock.Lock, progress io.Writer, auth *indexauth.Auth) error {
	platform, err := e.NativePlatform(ctx)
	if err != nil {
		return err
	}
	env, err := EnvFor(l, platform, l.Run.PipCache)
	if err != nil {
		return err
	}
	env.Auth = auth
	image, err := e.EnsureEnv(ctx, env, EnvOptions{Rebuild: true, Progress: progress})
	if err != nil {
		return err
	}
	if len(env.Packages) == 0 {
		return nil
	}
	installed, err := e.Installed(ctx, env, image)
	if err != nil {
		return err
	}
	return compareInstalled(env.Packages, installed)
}

// compareInstalled lists every difference between the locked packages and
// what a venv holds (name → version).
func compareInstalled(locked []lock.Package, installed map[string]string) error {
	var diffs []string
	want := map[string]string{}
	for _, p := range locked {
		want[p.Name] = p.Version
		if v, ok := installed[p.Name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s is not installed", p.Name, p.Version))
		} else if v != p.Version {
			diffs = append(diffs, fmt.Sprintf("%s is %s, the lock says %s", p.Name, v, p.Version))
		}
	}
	for n, v := range installed {
		if _, ok := want[n]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s is installed but not in the lock", n, v))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return errors.New(fmt.Sprint(diffs))
}
