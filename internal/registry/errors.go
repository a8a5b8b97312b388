package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrorKind classifies registry failures by what the user should do.
type ErrorKind int

// The kinds of registry failure.
const (
	KindOther ErrorKind = iota
	KindNotFound
	KindUnauthorized
	KindUnreachable
	KindRateLimited
	KindTimeout
	KindCorrupt
)

// Error is a registry failure with the reference it concerned and
// advice on what to do.
type Error struct {
	Kind ErrorKind
	Ref  string
	Err  error
}

func (e *Error) Error() string { return e.Ref + ": " + e.Reason() }

// Reason is what went wrong and what to do, without the reference (for
// reports that name it already).
func (e *Error) Reason() string {
	host := registryHost(e.Ref)
	switch e.Kind {
	case KindNotFound:
		return fmt.Sprintf("not found in the registry: check the repository and tag (a private repository also answers \"not found\" until you run `docker login %s`)", host)
	case KindUnauthorized:
		return fmt.Sprintf("the registry refused access (%v): run `docker login %s`%s", statusOf(e.Err), host, loginHint(host))
	case KindUnreachable:
		return fmt.Sprintf("cannot reach registry %s: %v: check the network or proxy, or point [image] registry at a mirror", host, e.Err)
	case KindTimeout:
		return fmt.Sprintf("registry %s did not answer in time (%v), also after retries: try again later, or point [image] registry at a mirror", host, e.Err)
	case KindCorrupt:
		return fmt.Sprintf("registry %s served content that does not match its digest, also after retries (%v): a broken mirror or proxy is in the way; try again or use another registry", host, e.Err)
	case KindRateLimited:
		return fmt.Sprintf("registry %s is rate limiting requests and retries ran out: wait and try again, or `docker login %s` for a higher limit", host, host)
	}
	return fmt.Sprintf("%v", e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func loginHint(host string) string {
	if host == "nvcr.io" {
		return " with user $oauthtoken and an NGC API key as the password"
	}
	return ""
}

func statusOf(err error) string {
	var te *transport.Error
	if errors.As(err, &te) {
		return http.StatusText(te.StatusCode)
	}
	return "denied"
}

func registryHost(ref string) string {
	if r, err := name.ParseReference(ref); err == nil {
		return r.Context().RegistryStr()
	}
	if r, err := name.NewRepository(ref); err == nil {
		return r.RegistryStr()
	}
	return ref
}

// IsNotFound reports whether err is the registry answering that it does
// not have what was asked (a *Error of KindNotFound).
func IsNotFound(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.Kind == KindNotFound
}

// classify wraps err in a Error of the right kind.
func Classify(err error, ref string) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var re *Error
	if errors.As(err, &re) {
		return err
	}
	kind := KindOther
	switch {
	case isNotFound(err):
		kind = KindNotFound
	case isAuth(err):
		kind = KindUnauthorized
	case statusIs(err, http.StatusTooManyRequests):
		kind = KindRateLimited
	case isTimeout(err):
		kind = KindTimeout
	case strings.Contains(err.Error(), "does not match") || strings.Contains(err.Error(), "error verifying"):
		kind = KindCorrupt
	case isUnreachable(err):
		kind = KindUnreachable
	}
	return &Error{Kind: kind, Ref: ref, Err: err}
}

func statusIs(err error, codes ...int) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, c := range codes {
		if te.StatusCode == c {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			if d.Code == transport.NameUnknownErrorCode || d.Code == transport.ManifestUnknownErrorCode {
				return true
			}
		}
	}
	return statusIs(err, http.StatusNotFound)
}

func isAuth(err error) bool {
	return statusIs(err, http.StatusUnauthorized, http.StatusForbidden)
}

func isUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, context.DeadlineExceeded)
}

func isTimeout(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) || strings.Contains(err.Error(), "timeout awaiting response headers")
}
