package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// RetryPolicy says how often and how long to retry a registry request that
// failed with 429, a 5xx or a dropped connection.
type RetryPolicy struct {
	Attempts int           // total tries, at least 1
	Base     time.Duration // first backoff; doubled each try
	Max      time.Duration // longest single wait, also for Retry-After
}

// DefaultRetry is the policy mlenv uses against real registries.
var DefaultRetry = RetryPolicy{Attempts: 5, Base: 500 * time.Millisecond, Max: 30 * time.Second}

// retryTransport retries idempotent requests (GET, HEAD) on 429 and 5xx
// answers, honouring Retry-After, and on connection resets.
type retryTransport struct {
	next    http.RoundTripper
	policy  RetryPolicy
	onRetry func(host string, reason error, wait time.Duration, attempt, attempts int)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.next.RoundTrip(req)
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(req)
		if attempt >= t.policy.Attempts || !retryable(resp, err) {
			return resp, err
		}
		wait := t.backoff(attempt, resp)
		if t.onRetry != nil {
			reason := err
			if reason == nil {
				reason = errors.New(resp.Status)
			}
			t.onRetry(req.URL.Host, reason, wait, attempt+1, t.policy.Attempts)
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		var ne net.Error
		return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || (errors.As(err, &ne) && ne.Timeout())
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (t *retryTransport) backoff(attempt int, resp *http.Response) time.Duration {
	wait := t.policy.Base << (attempt - 1)
	if resp != nil {
		if ra := retryAfter(resp.Header.Get("Retry-After")); ra > 0 {
			wait = ra
		}
	}
	return min(wait, t.policy.Max)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
