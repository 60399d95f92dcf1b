package storetest

import (
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// testExpire: retention removes finished jobs only, in batches of at most limit.
func testExpire(t *testing.T, s job.Store) {
	ids := []string{
		"e0000000-0000-4000-8000-000000000001", // completed
		"e0000000-0000-4000-8000-000000000002", // failed
		"e0000000-0000-4000-8000-000000000003", // canceled
		"e0000000-0000-4000-8000-000000000004", // processing
		"e0000000-0000-4000-8000-000000000005", // queued
	}
	for _, id := range ids {
		create(t, s, newJob(id, job.PriorityNormal))
	}
	a := claim(t, s, longLease)
	if err := s.Complete(t.Context(), a.ID, a.LeaseToken, nil); err != nil {
		t.Fatal(err)
	}
	b := claim(t, s, longLease)
	if err := s.Fail(t.Context(), b.ID, b.LeaseToken, job.Failure{Code: job.CodeCorruptImage, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cancel(t.Context(), ids[2]); err != nil {
		t.Fatal(err)
	}
	claim(t, s, longLease) // ids[3] stays processing

	if got, err := s.Expire(t.Context(), time.Now().Add(-time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("Expire with a cutoff before every finish: %d jobs, %v", len(got), err)
	}
	first, err := s.Expire(t.Context(), time.Now().Add(time.Hour), 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("Expire limit 2: %d jobs, %v", len(first), err)
	}
	rest, err := s.Expire(t.Context(), time.Now().Add(time.Hour), 10)
	if err != nil || len(rest) != 1 {
		t.Fatalf("Expire the rest: %d jobs, %v", len(rest), err)
	}
	expired := map[string]bool{}
	for _, j := range append(first, rest...) {
		if !j.Status.Terminal() {
			t.Errorf("expired job %s is %s", j.ID, j.Status)
		}
		expired[j.ID] = true
	}
	for _, id := range ids[:3] {
		if !expired[id] {
			t.Errorf("finished job %s not expired", id)
		}
		_, err := s.Get(t.Context(), id)
		wantCode(t, "Get of an expired job", err, job.CodeNotFound)
	}
	if j := get(t, s, ids[3]); j.Status != job.StatusProcessing {
		t.Errorf("processing job is %s after Expire", j.Status)
	}
	if j := get(t, s, ids[4]); j.Status != job.StatusQueued {
		t.Errorf("queued job is %s after Expire", j.Status)
	}
}

func testQueueDepth(t *testing.T, s job.Store) {
	depth := func() int {
		t.Helper()
		n, err := s.QueueDepth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := depth(); n != 0 {
		t.Fatalf("empty store: depth %d", n)
	}
	for _, id := range []string{"f0000000-0000-4000-8000-000000000001", "f0000000-0000-4000-8000-000000000002", "f0000000-0000-4000-8000-000000000003"} {
		create(t, s, newJob(id, job.PriorityLow))
	}
	claim(t, s, longLease)
	if n := depth(); n != 2 {
		t.Errorf("depth %d after 3 created and 1 claimed, want 2", n)
	}
}
