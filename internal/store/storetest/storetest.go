// Package storetest is the conformance suite of job.Store: every implementation runs
// Run against itself, so the queue behaves the same on every database.
//
// The suite works in real time. Leases that must run out are a millisecond long and
// the tests wait for them with a deadline, so the store under test must use the real
// clock.
package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
)

// Run runs the conformance suite. open must return a new, empty store for each
// subtest and close it when the test ends (t.Cleanup); the store must use the real
// clock.
func Run(t *testing.T, open func(t *testing.T) job.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s job.Store)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"NotFound", testNotFound},
		{"QueueFull", testQueueFull},
		{"ClaimEmpty", testClaimEmpty},
		{"ClaimOrder", testClaimOrder},
		{"ClaimLeases", testClaimLeases},
		{"RetryRunAfter", testRetryRunAfter},
		{"Fencing", testFencing},
		{"FencingAfterRequeue", testFencingAfterRequeue},
		{"ExtendKeepsLease", testExtendKeepsLease},
		{"RequeueExpired", testRequeueExpired},
		{"Release", testRelease},
		{"Complete", testComplete},
		{"Fail", testFail},
		{"Cancel", testCancel},
		{"Delete", testDelete},
		{"ListPaging", testListPaging},
		{"ListInvalid", testListInvalid},
		{"Stats", testStats},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Ping", testPing},
		{"Expire", testExpire},
		{"QueueDepth", testQueueDepth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// longLease is a lease no test outlives.
const longLease = time.Hour

// newJob returns a job as the API would hand it to Create.
func newJob(id string, p job.Priority) *job.Job {
	return &job.Job{
		ID:       id,
		Priority: p,
		Source: job.Source{
			Filename: "cat " + id + ".jpg",
			Format:   job.FormatJPEG,
			Bytes:    123456,
			Width:    1920,
			Height:   1080,
		},
		Spec: job.Spec{Variants: []job.Variant{{
			Name: job.DefaultVariant,
			Ops:  []job.Op{{Name: "resize", Width: 800}},
		}}},
	}
}

func create(t *testing.T, s job.Store, j *job.Job) *job.Job {
	t.Helper()
	if err := s.Create(t.Context(), j, 0); err != nil {
		t.Fatalf("Create(%s): %v", j.ID, err)
	}
	return j
}

func get(t *testing.T, s job.Store, id string) *job.Job {
	t.Helper()
	j, err := s.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return j
}

func claim(t *testing.T, s job.Store, lease time.Duration) *job.Job {
	t.Helper()
	j, err := s.Claim(t.Context(), lease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if j == nil {
		t.Fatal("Claim returned no job; want one")
	}
	return j
}

func claimNone(t *testing.T, s job.Store) {
	t.Helper()
	j, err := s.Claim(t.Context(), longLease)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if j != nil {
		t.Fatalf("Claim returned job %s (%s); want none", j.ID, j.Status)
	}
}

func wantCode(t *testing.T, what string, err error, code job.Code) {
	t.Helper()
	var e *job.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("%s: error %v; want *job.Error with code %s", what, err, code)
	}
}

func wantLeaseLost(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, job.ErrLeaseLost) {
		t.Fatalf("%s: error %v; want job.ErrLeaseLost", what, err)
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// requeue waits until RequeueExpired has requeued exactly want jobs in total.
func requeue(t *testing.T, s job.Store, want int) {
	t.Helper()
	total := 0
	eventually(t, fmt.Sprintf("%d expired leases", want), func() bool {
		n, err := s.RequeueExpired(t.Context())
		if err != nil {
			t.Fatalf("RequeueExpired: %v", err)
		}
		total += n
		return total >= want
	})
	if total != want {
		t.Fatalf("RequeueExpired requeued %d jobs; want %d", total, want)
	}
}

// near reports whether got is within tolerance of want; store times have millisecond
// precision and stores may round.
func near(got, want time.Time, tolerance time.Duration) bool {
	d := got.Sub(want)
	return d >= -tolerance && d <= tolerance
}

func testCreateGetRoundTrip(t *testing.T, s job.Store) {
	j := &job.Job{
		ID:       "6f1c2a3e-0b5d-4f7a-9c11-2d3e4f5a6b7c",
		Priority: job.PriorityHigh,
		Source: job.Source{
			Filename: "Ünïcode näme 'quoted' \"x\".png",
			Format:   job.FormatPNG,
			Bytes:    52428800,
			Width:    7000,
			Height:   5000,
		},
		Spec: job.Spec{Variants: []job.Variant{
			{
				Name:    "thumb",
				Format:  job.FormatWebP,
				Quality: 80,
				Ops: []job.Op{
					{Name: "fill", Width: 200, Height: 150, Anchor: "top-left", Filter: "lanczos"},
					{Name: "sharpen", Sigma: 0.75},
				},
			},
			{
				Name: "large",
				Ops: []job.Op{
					{Name: "crop", Width: 10, Height: 20, X: 3, Y: 4},
					{Name: "rotate", Angle: 33.5, Background: "#ffffff80"},
					{Name: "flip", Direction: "h"},
					{Name: "brightness", Percent: -12.5},
					{Name: "gamma", Gamma: 1.8},
					{Name: "grayscale"},
				},
			},
		}},
	}
	before := time.Now()
	if err := s.Create(t.Context(), j, 10); err != nil {
		t.Fatalf("Create: %v", err)
	}
	after := time.Now()
	if j.Status != job.StatusQueued {
		t.Errorf("after Create, Status = %q; want queued", j.Status)
	}
	if j.CreatedAt.Before(before.Add(-time.Second)) || j.CreatedAt.After(after.Add(time.Second)) {
		t.Errorf("after Create, CreatedAt = %v; want between %v and %v", j.CreatedAt, before, after)
	}
	got := get(t, s, j.ID)
	if diff := cmp.Diff(j, got); diff != "" {
		t.Errorf("Get after Create differs (-created +got):\n%s", diff)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v is not UTC", got.CreatedAt)
	}
	for name, tm := range map[string]time.Time{"StartedAt": got.StartedAt, "FinishedAt": got.FinishedAt,
		"RunAfter": got.RunAfter, "LeaseExpires": got.LeaseExpires} {
		if !tm.IsZero() {
			t.Errorf("new job: %s = %v; want zero", name, tm)
		}
	}

	// Every priority round-trips.
	for i, p := range []job.Priority{job.PriorityLow, job.PriorityNormal, job.PriorityHigh} {
		pj := create(t, s, newJob(fmt.Sprintf("prio-%d", i), p))
		if g := get(t, s, pj.ID); g.Priority != p {
			t.Errorf("priority %v came back as %v", p, g.Priority)
		}
	}
}

func testCreateDuplicateID(t *testing.T, s job.Store) {
	create(t, s, newJob("dup", job.PriorityHigh))
	again := newJob("dup", job.PriorityLow)
	if err := s.Create(t.Context(), again, 0); err == nil {
		t.Fatal("Create with an existing id succeeded")
	}
	if g := get(t, s, "dup"); g.Priority != job.PriorityHigh {
		t.Errorf("the first job was overwritten: priority %v", g.Priority)
	}
	if st := stats(t, s); st.Queued != 1 {
		t.Errorf("Stats.Queued = %d; want 1", st.Queued)
	}
}

func testNotFound(t *testing.T, s job.Store) {
	ctx := t.Context()
	_, err := s.Get(ctx, "missing")
	wantCode(t, "Get", err, job.CodeNotFound)
	_, err = s.Cancel(ctx, "missing")
	wantCode(t, "Cancel", err, job.CodeNotFound)
	_, err = s.Delete(ctx, "missing")
	wantCode(t, "Delete", err, job.CodeNotFound)
	wantLeaseLost(t, "Complete", s.Complete(ctx, "missing", "token", nil))
}

func testQueueFull(t *testing.T, s job.Store) {
	ctx := t.Context()
	for i := range 3 {
		if err := s.Create(ctx, newJob(fmt.Sprintf("j%d", i), job.PriorityNormal), 3); err != nil {
			t.Fatalf("Create %d of 3: %v", i, err)
		}
	}
	err := s.Create(ctx, newJob("over", job.PriorityHigh), 3)
	wantCode(t, "Create at capacity", err, job.CodeQueueFull)
	_, err = s.Get(ctx, "over")
	wantCode(t, "Get of the refused job", err, job.CodeNotFound)
	if st := stats(t, s); st.Queued != 3 {
		t.Errorf("Stats.Queued = %d; want 3", st.Queued)
	}

	// Capacity counts queued jobs only: a claimed job frees a place.
	claim(t, s, longLease)
	if err := s.Create(ctx, newJob("fits", job.PriorityNormal), 3); err != nil {
		t.Fatalf("Create after a claim: %v", err)
	}
	// 0 means no limit.
	if err := s.Create(ctx, newJob("unlimited", job.PriorityNormal), 0); err != nil {
		t.Fatalf("Create without a limit: %v", err)
	}
}

func testClaimEmpty(t *testing.T, s job.Store) {
	claimNone(t, s)
	create(t, s, newJob("only", job.PriorityNormal))
	claim(t, s, longLease)
	claimNone(t, s) // the only job is processing
}

func testClaimOrder(t *testing.T, s job.Store) {
	prios := []job.Priority{job.PriorityLow, job.PriorityNormal, job.PriorityHigh}
	var want []string
	byPrio := map[job.Priority][]string{}
	for i := range 4 {
		for _, p := range prios {
			id := fmt.Sprintf("%s-%d", p, i)
			create(t, s, newJob(id, p))
			byPrio[p] = append(byPrio[p], id)
		}
	}
	for _, p := range []job.Priority{job.PriorityHigh, job.PriorityNormal, job.PriorityLow} {
		want = append(want, byPrio[p]...)
	}
	var got []string
	for range want {
		got = append(got, claim(t, s, longLease).ID)
	}
	claimNone(t, s)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim order (-want +got):\n%s", diff)
	}
}

func testClaimLeases(t *testing.T, s job.Store) {
	create(t, s, newJob("a", job.PriorityNormal))
	create(t, s, newJob("b", job.PriorityNormal))
	before := time.Now()
	a := claim(t, s, time.Minute)
	b := claim(t, s, time.Minute)
	if a.Status != job.StatusProcessing || a.Attempts != 1 {
		t.Errorf("claimed job: status %s, attempts %d; want processing, 1", a.Status, a.Attempts)
	}
	if a.LeaseToken == "" || a.LeaseToken == b.LeaseToken {
		t.Errorf("lease tokens %q and %q; want distinct and non-empty", a.LeaseToken, b.LeaseToken)
	}
	if !near(a.LeaseExpires, before.Add(time.Minute), 2*time.Second) {
		t.Errorf("LeaseExpires = %v; want about %v", a.LeaseExpires, before.Add(time.Minute))
	}
	if !near(a.StartedAt, before, 2*time.Second) {
		t.Errorf("StartedAt = %v; want about %v", a.StartedAt, before)
	}
	if diff := cmp.Diff(a, get(t, s, "a")); diff != "" {
		t.Errorf("Get differs from the claimed job (-claimed +got):\n%s", diff)
	}
}

func testRetryRunAfter(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("later", job.PriorityHigh))
	create(t, s, newJob("soon", job.PriorityNormal))

	later := claim(t, s, longLease)
	fail := job.Failure{Code: job.CodeUnavailable, Message: "blob store unavailable"}
	runAfter := time.Now().Add(time.Hour)
	if err := s.Retry(ctx, later.ID, later.LeaseToken, runAfter, fail); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	g := get(t, s, later.ID)
	if g.Status != job.StatusQueued || g.Attempts != 1 || g.LeaseToken != "" || !g.LeaseExpires.IsZero() {
		t.Errorf("retried job: status %s, attempts %d, lease %q/%v; want queued, 1, no lease",
			g.Status, g.Attempts, g.LeaseToken, g.LeaseExpires)
	}
	if diff := cmp.Diff(&fail, g.Error); diff != "" {
		t.Errorf("retried job error (-want +got):\n%s", diff)
	}
	if !near(g.RunAfter, runAfter, time.Millisecond) {
		t.Errorf("RunAfter = %v; want %v", g.RunAfter, runAfter)
	}
	if !g.StartedAt.Equal(later.StartedAt) {
		t.Errorf("StartedAt changed on retry: %v → %v", later.StartedAt, g.StartedAt)
	}

	// "later" has the higher priority but is not due; "soon" is claimed instead.
	soon := claim(t, s, longLease)
	if soon.ID != "soon" {
		t.Fatalf("claimed %s; want soon", soon.ID)
	}
	claimNone(t, s)

	soonAfter := time.Now().Add(50 * time.Millisecond)
	if err := s.Retry(ctx, soon.ID, soon.LeaseToken, soonAfter, fail); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	var again *job.Job
	eventually(t, "the retried job to be claimable", func() bool {
		j, err := s.Claim(ctx, longLease)
		if err != nil {
			t.Fatalf("Claim: %v", err)
		}
		again = j
		return j != nil
	})
	if now := time.Now(); now.Before(soonAfter.Truncate(time.Millisecond)) {
		t.Errorf("job claimed at %v, before its RunAfter %v", now, soonAfter)
	}
	if again.ID != "soon" || again.Attempts != 2 {
		t.Errorf("claimed %s with %d attempts; want soon with 2", again.ID, again.Attempts)
	}
}

func testFencing(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	j := claim(t, s, longLease)
	const wrong = "00000000000000000000000000000000"

	wantLeaseLost(t, "Extend", s.Extend(ctx, j.ID, wrong, longLease))
	wantLeaseLost(t, "Complete", s.Complete(ctx, j.ID, wrong, nil))
	wantLeaseLost(t, "Fail", s.Fail(ctx, j.ID, wrong, job.Failure{Code: job.CodeInternal, Message: "x"}))
	wantLeaseLost(t, "Retry", s.Retry(ctx, j.ID, wrong, time.Now(), job.Failure{Code: job.CodeTimeout, Message: "x"}))
	wantLeaseLost(t, "Release", s.Release(ctx, j.ID, wrong))
	wantLeaseLost(t, "Complete with no token", s.Complete(ctx, j.ID, "", nil))
	if diff := cmp.Diff(j, get(t, s, j.ID)); diff != "" {
		t.Errorf("calls with a wrong token changed the job (-claimed +got):\n%s", diff)
	}

	if err := s.Complete(ctx, j.ID, j.LeaseToken, nil); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	// The claim ended with Complete; its token fences nothing any more.
	wantLeaseLost(t, "second Complete", s.Complete(ctx, j.ID, j.LeaseToken, nil))
	wantLeaseLost(t, "Fail after Complete", s.Fail(ctx, j.ID, j.LeaseToken, job.Failure{Code: job.CodeInternal}))
	if g := get(t, s, j.ID); g.Status != job.StatusCompleted {
		t.Errorf("status %s; want completed", g.Status)
	}
}

func testFencingAfterRequeue(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	old := claim(t, s, time.Millisecond)
	requeue(t, s, 1)
	wantLeaseLost(t, "Complete after requeue", s.Complete(ctx, old.ID, old.LeaseToken, nil))

	cur := claim(t, s, longLease)
	if cur.ID != old.ID || cur.LeaseToken == old.LeaseToken {
		t.Fatalf("reclaimed %s with token %q; want %s with a new token", cur.ID, cur.LeaseToken, old.ID)
	}
	wantLeaseLost(t, "Complete with the old token", s.Complete(ctx, old.ID, old.LeaseToken, nil))
	wantLeaseLost(t, "Extend with the old token", s.Extend(ctx, old.ID, old.LeaseToken, longLease))
	if err := s.Complete(ctx, cur.ID, cur.LeaseToken, nil); err != nil {
		t.Fatalf("Complete with the current token: %v", err)
	}
}

func testExtendKeepsLease(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	j := claim(t, s, time.Millisecond)
	if err := s.Extend(ctx, j.ID, j.LeaseToken, longLease); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	expires := j.LeaseExpires.Add(10 * time.Millisecond)
	eventually(t, "the first lease to pass", func() bool { return time.Now().After(expires) })
	if n, err := s.RequeueExpired(ctx); err != nil || n != 0 {
		t.Fatalf("RequeueExpired = %d, %v; want 0, nil", n, err)
	}
	g := get(t, s, j.ID)
	if g.Status != job.StatusProcessing || g.LeaseToken != j.LeaseToken {
		t.Errorf("extended job: status %s, token %q; want processing, %q", g.Status, g.LeaseToken, j.LeaseToken)
	}
	if least := time.Now().Add(longLease - time.Minute); g.LeaseExpires.Before(least) {
		t.Errorf("LeaseExpires = %v; want after %v", g.LeaseExpires, least)
	}
	if err := s.Complete(ctx, j.ID, j.LeaseToken, nil); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

func testRequeueExpired(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("short", job.PriorityHigh))
	create(t, s, newJob("long", job.PriorityNormal))
	short := claim(t, s, time.Millisecond)
	long := claim(t, s, longLease)
	if short.ID != "short" || long.ID != "long" {
		t.Fatalf("claimed %s, %s; want short, long", short.ID, long.ID)
	}
	requeue(t, s, 1)

	g := get(t, s, "short")
	if g.Status != job.StatusQueued || g.LeaseToken != "" || !g.LeaseExpires.IsZero() {
		t.Errorf("expired job: status %s, lease %q/%v; want queued without a lease", g.Status, g.LeaseToken, g.LeaseExpires)
	}
	if g.Attempts != 1 {
		t.Errorf("expired job: attempts %d; want 1 (the lost attempt counts)", g.Attempts)
	}
	if g := get(t, s, "long"); g.Status != job.StatusProcessing {
		t.Errorf("job with a live lease: status %s; want processing", g.Status)
	}
	if n, err := s.RequeueExpired(ctx); err != nil || n != 0 {
		t.Errorf("second RequeueExpired = %d, %v; want 0, nil", n, err)
	}
	again := claim(t, s, longLease)
	if again.ID != "short" || again.Attempts != 2 {
		t.Errorf("reclaimed %s with %d attempts; want short with 2", again.ID, again.Attempts)
	}
}

func testRelease(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	j := claim(t, s, longLease)
	if err := s.Release(ctx, j.ID, j.LeaseToken); err != nil {
		t.Fatalf("Release: %v", err)
	}
	g := get(t, s, j.ID)
	if g.Status != job.StatusQueued || g.Attempts != 0 || g.LeaseToken != "" || !g.LeaseExpires.IsZero() {
		t.Errorf("released job: status %s, attempts %d, lease %q/%v; want queued, 0, no lease",
			g.Status, g.Attempts, g.LeaseToken, g.LeaseExpires)
	}
	wantLeaseLost(t, "second Release", s.Release(ctx, j.ID, j.LeaseToken))
	again := claim(t, s, longLease)
	if again.ID != j.ID || again.Attempts != 1 {
		t.Errorf("reclaimed %s with %d attempts; want %s with 1", again.ID, again.Attempts, j.ID)
	}
}

func testComplete(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	j := claim(t, s, longLease)
	// An earlier attempt failed; completing clears its error.
	if err := s.Retry(ctx, j.ID, j.LeaseToken, time.Time{}, job.Failure{Code: job.CodeTimeout, Message: "slow"}); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	j = claim(t, s, longLease)
	outs := []job.Output{
		{Variant: "default", Format: job.FormatJPEG, Bytes: 1000, Width: 800, Height: 600, ETag: `"abc"`},
		{Variant: "thumb", Format: job.FormatWebP, Bytes: 99, Width: 80, Height: 60, ETag: `"def"`},
	}
	if err := s.Complete(ctx, j.ID, j.LeaseToken, outs); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	g := get(t, s, j.ID)
	if g.Status != job.StatusCompleted || g.Error != nil || g.LeaseToken != "" || !g.LeaseExpires.IsZero() {
		t.Errorf("completed job: status %s, error %v, lease %q/%v; want completed, no error, no lease",
			g.Status, g.Error, g.LeaseToken, g.LeaseExpires)
	}
	if diff := cmp.Diff(outs, g.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if g.FinishedAt.IsZero() || g.FinishedAt.Before(g.StartedAt) {
		t.Errorf("FinishedAt = %v, StartedAt = %v; want finished at or after start", g.FinishedAt, g.StartedAt)
	}
	if g.Attempts != 2 {
		t.Errorf("attempts %d; want 2", g.Attempts)
	}
	claimNone(t, s)
}

func testFail(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	j := claim(t, s, longLease)
	f := job.Failure{Code: job.CodeCorruptImage, Message: "image is corrupt: unexpected EOF"}
	if err := s.Fail(ctx, j.ID, j.LeaseToken, f); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	g := get(t, s, j.ID)
	if g.Status != job.StatusFailed || g.LeaseToken != "" || !g.LeaseExpires.IsZero() || g.Outputs != nil {
		t.Errorf("failed job: status %s, lease %q/%v, outputs %v; want failed, no lease, no outputs",
			g.Status, g.LeaseToken, g.LeaseExpires, g.Outputs)
	}
	if diff := cmp.Diff(&f, g.Error); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if g.FinishedAt.IsZero() || g.FinishedAt.Before(g.StartedAt) {
		t.Errorf("FinishedAt = %v, StartedAt = %v; want finished at or after start", g.FinishedAt, g.StartedAt)
	}
	claimNone(t, s)
}

func testCancel(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("busy", job.PriorityHigh))
	create(t, s, newJob("waiting", job.PriorityNormal))
	busy := claim(t, s, longLease)

	c, err := s.Cancel(ctx, "waiting")
	if err != nil {
		t.Fatalf("Cancel(queued): %v", err)
	}
	if c.Status != job.StatusCanceled || c.FinishedAt.IsZero() {
		t.Errorf("canceled job: status %s, FinishedAt %v; want canceled and finished", c.Status, c.FinishedAt)
	}
	if diff := cmp.Diff(c, get(t, s, "waiting")); diff != "" {
		t.Errorf("Get differs from what Cancel returned (-cancel +get):\n%s", diff)
	}
	claimNone(t, s)

	c, err = s.Cancel(ctx, "busy")
	wantCode(t, "Cancel(processing)", err, job.CodeConflict)
	if c == nil || c.Status != job.StatusProcessing {
		t.Errorf("Cancel(processing) returned %+v; want the unchanged processing job", c)
	}
	if diff := cmp.Diff(busy, get(t, s, "busy")); diff != "" {
		t.Errorf("Cancel(processing) changed the job (-before +after):\n%s", diff)
	}
	_, err = s.Cancel(ctx, "waiting")
	wantCode(t, "Cancel(canceled)", err, job.CodeConflict)
}

func testDelete(t *testing.T, s job.Store) {
	ctx := t.Context()
	for _, id := range []string{"completed", "failed", "canceled", "processing", "queued"} {
		create(t, s, newJob(id, job.PriorityNormal))
	}
	c := claim(t, s, longLease)
	if err := s.Complete(ctx, c.ID, c.LeaseToken, []job.Output{{Variant: "default", Format: job.FormatPNG}}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	f := claim(t, s, longLease)
	if err := s.Fail(ctx, f.ID, f.LeaseToken, job.Failure{Code: job.CodeCorruptImage, Message: "bad"}); err != nil {
		t.Fatalf("Fail: %v", err)
	}
	if _, err := s.Cancel(ctx, "canceled"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	claim(t, s, longLease) // "processing"; "queued" stays queued

	for _, id := range []string{"queued", "processing"} {
		d, err := s.Delete(ctx, id)
		wantCode(t, "Delete("+id+")", err, job.CodeConflict)
		if d != nil && d.ID != id {
			t.Errorf("Delete(%s) returned job %s", id, d.ID)
		}
		if g := get(t, s, id); string(g.Status) != id {
			t.Errorf("after a refused Delete, %s has status %s", id, g.Status)
		}
	}
	for _, id := range []string{"completed", "failed", "canceled"} {
		before := get(t, s, id)
		d, err := s.Delete(ctx, id)
		if err != nil {
			t.Fatalf("Delete(%s): %v", id, err)
		}
		if diff := cmp.Diff(before, d); diff != "" {
			t.Errorf("Delete(%s) returned (-before +returned):\n%s", id, diff)
		}
		_, err = s.Get(ctx, id)
		wantCode(t, "Get after Delete("+id+")", err, job.CodeNotFound)
		_, err = s.Delete(ctx, id)
		wantCode(t, "second Delete("+id+")", err, job.CodeNotFound)
	}
}

// listAll pages through q and returns the ids in order, checking page sizes.
func listAll(t *testing.T, s job.Store, q job.ListQuery, between func(page int)) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("listing does not end")
		}
		p, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if q.Limit > 0 && len(p.Jobs) > q.Limit {
			t.Fatalf("List returned %d jobs; limit %d", len(p.Jobs), q.Limit)
		}
		if p.NextCursor != "" && len(p.Jobs) != q.Limit {
			t.Errorf("page %d has %d jobs and a next cursor; want full pages of %d before the last", page, len(p.Jobs), q.Limit)
		}
		for _, j := range p.Jobs {
			if q.Status != "" && j.Status != q.Status {
				t.Errorf("List(status=%s) returned %s with status %s", q.Status, j.ID, j.Status)
			}
			ids = append(ids, j.ID)
		}
		if p.NextCursor == "" {
			return ids
		}
		if between != nil {
			between(page)
		}
		q.Cursor = p.NextCursor
	}
}

func testListPaging(t *testing.T, s job.Store) {
	ctx := t.Context()
	var all []string // creation order
	for i := range 20 {
		id := fmt.Sprintf("job-%02d", i)
		create(t, s, newJob(id, job.PriorityNormal))
		all = append(all, id)
	}
	// job-00..02 are claimed (FIFO), job-00 completes.
	c := claim(t, s, longLease)
	claim(t, s, longLease)
	claim(t, s, longLease)
	if err := s.Complete(ctx, c.ID, c.LeaseToken, nil); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	reverse := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[len(ids)-1-i] = id
		}
		return out
	}
	newestFirst := reverse(all)

	tests := []struct {
		name string
		q    job.ListQuery
		want []string
	}{
		{"all by 5 (exact pages)", job.ListQuery{Limit: 5}, newestFirst},
		{"all by 7", job.ListQuery{Limit: 7}, newestFirst},
		{"all by 1", job.ListQuery{Limit: 1}, newestFirst},
		{"default limit", job.ListQuery{}, newestFirst},
		{"over the maximum", job.ListQuery{Limit: job.MaxListLimit + 1}, newestFirst},
		{"queued by 5", job.ListQuery{Status: job.StatusQueued, Limit: 5}, newestFirst[:17]},
		{"processing by 1", job.ListQuery{Status: job.StatusProcessing, Limit: 1}, []string{"job-02", "job-01"}},
		{"completed", job.ListQuery{Status: job.StatusCompleted, Limit: 5}, []string{"job-00"}},
		{"failed (none)", job.ListQuery{Status: job.StatusFailed, Limit: 5}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := listAll(t, s, tc.q, nil)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("listed ids (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("jobs created while paging", func(t *testing.T) {
		// Keyset paging: jobs created after the first page are newer than the cursor and
		// neither appear on later pages nor shift them.
		created := 0
		got := listAll(t, s, job.ListQuery{Limit: 6}, func(int) {
			create(t, s, newJob(fmt.Sprintf("late-%d", created), job.PriorityNormal))
			created++
		})
		if diff := cmp.Diff(newestFirst, got); diff != "" {
			t.Errorf("listed ids (-want +got):\n%s", diff)
		}
	})
}

func testListInvalid(t *testing.T, s job.Store) {
	ctx := t.Context()
	create(t, s, newJob("j", job.PriorityNormal))
	for _, c := range []string{"not a cursor", "!!!", "%%", "eA", "-1", "MTIzYWJj"} {
		_, err := s.List(ctx, job.ListQuery{Cursor: c})
		wantCode(t, fmt.Sprintf("List(cursor %q)", c), err, job.CodeInvalid)
	}
	_, err := s.List(ctx, job.ListQuery{Status: "bogus"})
	wantCode(t, "List(status bogus)", err, job.CodeInvalid)
	_, err = s.List(ctx, job.ListQuery{Limit: -1})
	wantCode(t, "List(limit -1)", err, job.CodeInvalid)
}

func stats(t *testing.T, s job.Store) job.Stats {
	t.Helper()
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func testStats(t *testing.T, s job.Store) {
	ctx := t.Context()
	if diff := cmp.Diff(job.Stats{}, stats(t, s)); diff != "" {
		t.Errorf("empty store stats (-want +got):\n%s", diff)
	}
	for i := range 9 {
		create(t, s, newJob(fmt.Sprintf("j%d", i), job.PriorityNormal))
	}
	done := claim(t, s, longLease)
	if err := s.Complete(ctx, done.ID, done.LeaseToken, nil); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	for range 2 {
		f := claim(t, s, longLease)
		if err := s.Fail(ctx, f.ID, f.LeaseToken, job.Failure{Code: job.CodeCorruptImage}); err != nil {
			t.Fatalf("Fail: %v", err)
		}
	}
	for range 3 {
		claim(t, s, longLease)
	}
	if _, err := s.Cancel(ctx, "j8"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	want := job.Stats{Queued: 2, Processing: 3, Completed: 1, Failed: 2, Canceled: 1}
	if diff := cmp.Diff(want, stats(t, s)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func testConcurrentClaims(t *testing.T, s job.Store) {
	const jobs, claimers = 100, 8
	for i := range jobs {
		p := job.Priority(i % 3)
		create(t, s, newJob(fmt.Sprintf("job-%03d", i), p))
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, claimers)
	)
	for range claimers {
		wg.Go(func() {
			for {
				j, err := s.Claim(t.Context(), longLease)
				if err != nil {
					errs <- err
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				claimed[j.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Claim: %v", err)
	}
	if len(claimed) != jobs {
		t.Errorf("%d distinct jobs claimed; want %d", len(claimed), jobs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
	if st := stats(t, s); st.Processing != jobs || st.Queued != 0 {
		t.Errorf("stats %+v; want %d processing, 0 queued", st, jobs)
	}
}

func testPing(t *testing.T, s job.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
