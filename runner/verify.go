package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mlenv/mlenv/internal/envimage"
	"github.com/mlenv/mlenv/internal/indexauth"
	"github.com/mlenv/mlenv/internal/task"
	"github.com/mlenv/mlenv/lock"
)

// VerifyOptions say where VerifyEnv's build gets its inputs.
type VerifyOptions struct {
	Base   BaseSource
	Auth   *indexauth.Auth
	Client *http.Client
}

// VerifyEnv builds l's environment for this engine's platform from
// scratch and checks it is the locked one: its digests are the lock's
// env and env-config, the engine's image of that environment (if any) is
// that build, and the venv holds exactly the locked packages. Every
// difference is named (files, with the engine's copy).
func (e *Engine) VerifyEnv(ctx context.Context, l *lock.Lock, o VerifyOptions) error {
	platform, err := e.NativePlatform(ctx)
	if err != nil {
		return err
	}
	env, err := EnvFor(l, platform, l.Run.PipCache)
	if err != nil {
		return err
	}
	env.Auth = o.Auth
	if _, err := e.EnsureImage(ctx, env.Base, nil); err != nil || len(env.Packages) == 0 {
		return err
	}
	if o.Base == nil {
		return errors.New("no source for the base image to build the environment from")
	}
	baseImg, err := o.Base.BaseImage(ctx, l, platform)
	if err != nil {
		return err
	}
	built, err := envimage.Build(ctx, l, platform, baseImg, envimage.Options{
		Client: env.Auth.Client(o.Client), Pip: e.pipVenv(env, EnvOptions{}), NoLayerCache: true, // afresh: from the wheels alone
	})
	if err != nil {
		return err
	}
	defer built.Close()
	if want := env.Locked.EnvConfig; want != "" && (built.Config.String() != want || built.Digest.String() != env.Locked.EnvDigest) {
		return e.notReproducible(ctx, env, built)
	}
	if named, err := e.Client.ImageInspect(ctx, env.Image()); err == nil && named.ID != built.Config.String() {
		msg := fmt.Sprintf("the engine's %s is image %s, not the environment built from the lock (%s): it was changed or re-tagged; mlenv run will not use it (remove it with `docker rmi %s`)", env.Image(), named.ID, built.Config, env.Image())
		if files, derr := e.diffWithEngine(ctx, env.Image(), built); derr == nil && len(files) > 0 {
			msg += "; how its files differ from the build:\n" + task.Indent(strings.Join(files, "\n"))
		}
		return errors.New(msg)
	}
	if err := e.LoadEnv(ctx, built.Image, env.Image()); err != nil {
		return err
	}
	installed, err := e.Installed(ctx, env, built.Config.String())
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
