package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// transient is the retry policy, in one place: whether a failed attempt may succeed
// if tried again. Errors about the image or the request (corrupt, unsupported, too
// large, invalid) never will; a crash on an image would crash again. Storage or
// database trouble, timeouts and unclassified errors may.
func transient(err error) bool {
	if errors.Is(err, errPanic) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch job.ErrorCode(err) {
	case job.CodeInternal, job.CodeUnavailable, job.CodeTimeout:
		return true
	}
	return false
}

// backoff is the delay before retrying after attempt attempts: BackoffBase doubled per
// attempt, capped at BackoffMax, with full jitter in its upper half so that jobs
// failing together do not retry together.
func (p *Pool) backoff(attempt int) time.Duration {
	d := p.cfg.BackoffBase
	for i := 1; i < attempt && d < p.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, p.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}
