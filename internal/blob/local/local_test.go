package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/blob/blobtest"
	"github.com/pixmill/pixmill/internal/blob/local"
)

func newStore(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.New(local.Config{Dir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := newStore(t)
		t.Cleanup(func() { assertNoTempFiles(t, s.Dir()) })
		return s
	})
}

// files lists every file below dir, slash-separated and relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	for _, f := range files(t, dir) {
		if strings.HasPrefix(filepath.Base(f), local.TempPrefix) {
			t.Errorf("temporary file left behind: %s", f)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := local.New(local.Config{}); err == nil {
		t.Error("New with no dir succeeded")
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(local.Config{Dir: file}); err == nil {
		t.Error("New on a regular file succeeded")
	}

	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := local.New(local.Config{Dir: dir})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("New did not create %s: %v", dir, err)
	}
	if !filepath.IsAbs(s.Dir()) {
		t.Errorf("Dir() = %q, want an absolute path", s.Dir())
	}
	if err := local.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	parent := t.TempDir()
	s, err := local.New(local.Config{Dir: filepath.Join(parent, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	keys := []string{
		"",
		"/etc/passwd",
		"../x",
		"a/../../x",
		"a/..",
		"..",
		"./a",
		"a/./b",
		"a//b",
		"a/",
		"/",
		`a\b`,
		`..\x`,
		"a\x00b",
		"a/" + local.TempPrefix + "x",
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			if _, err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
				t.Error("Put succeeded")
			}
			if obj, err := s.Open(ctx, key); err == nil {
				_ = obj.Close()
				t.Error("Open succeeded")
			} else if errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Open = %v, want an invalid key error, not ErrNotFound", err)
			}
			if err := s.Delete(ctx, key); err == nil {
				t.Error("Delete succeeded")
			}
		})
	}

	prefixes := []string{"../", "/", "/x", "a/../", "a//", `a\`, "a\x00", "./"}
	for _, p := range prefixes {
		if err := s.DeletePrefix(ctx, p); err == nil {
			t.Errorf("DeletePrefix(%q) succeeded", p)
		}
	}

	// Nothing was written outside the store's directory.
	if got := files(t, parent); len(got) != 0 {
		t.Errorf("files written: %v", got)
	}
}

func TestSymlinkOutsideIsNotFollowed(t *testing.T) {
	s := newStore(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "link")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	ctx := t.Context()
	if obj, err := s.Open(ctx, "link/secret"); err == nil {
		_ = obj.Close()
		t.Error("Open through a symlink out of the store succeeded")
	}
	if _, err := s.Put(ctx, "link/new", strings.NewReader("x")); err == nil {
		t.Error("Put through a symlink out of the store succeeded")
	}
	if err := s.DeletePrefix(ctx, "link/"); err != nil {
		t.Logf("DeletePrefix(link/): %v", err)
	}
	if got := files(t, outside); !cmp.Equal(got, []string{"secret"}) {
		t.Errorf("files outside the store = %v, want [secret]", got)
	}
}

func TestErrorsDoNotShowDir(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	// A file where a directory is needed makes Put fail inside the filesystem.
	if _, err := s.Put(ctx, "results/file", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(s.Dir(), "results", "dir"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir(), "results", "dir", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	var errs []error
	_, err := s.Open(ctx, "sources/missing")
	errs = append(errs, err)
	_, err = s.Open(ctx, "results/file/below")
	errs = append(errs, err)
	_, err = s.Put(ctx, "results/file/below", strings.NewReader("x"))
	errs = append(errs, err)
	_, err = s.Put(ctx, "results/dir", strings.NewReader("x")) // a directory is in the way
	errs = append(errs, err)
	_, err = s.Put(ctx, "../escape", strings.NewReader("x"))
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		t.Logf("case %d: %v", i, err)
		if strings.Contains(err.Error(), s.Dir()) {
			t.Errorf("case %d: error %q shows the directory", i, err)
		}
	}
	assertNoTempFiles(t, s.Dir())
}

func TestNoTempFilesAfterFailure(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _ = s.Put(ctx, "results/j/a", strings.NewReader("x"))
	_, _ = s.Put(t.Context(), "results/j/b", io.MultiReader(strings.NewReader("partial"), errReader{}))
	_, _ = s.Put(t.Context(), "c", errReader{})
	assertNoTempFiles(t, s.Dir())
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken") }

func TestWalk(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	keys := []string{"results/j1/default", "results/j1/thumb", "sources/j1", "sources/j2"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	// A temporary file of a Put in progress (or of a crash) is not a key.
	if err := os.WriteFile(filepath.Join(s.Dir(), "sources", local.TempPrefix+"abc"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Nor is an empty directory.
	if err := os.MkdirAll(filepath.Join(s.Dir(), "results", "empty"), 0o750); err != nil {
		t.Fatal(err)
	}

	var got []string
	err := s.Walk(ctx, func(key string, modTime time.Time) error {
		if modTime.IsZero() {
			t.Errorf("%s: zero modTime", key)
		}
		got = append(got, key)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("Walk keys (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	calls := 0
	err = s.Walk(ctx, func(string, time.Time) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Walk(canceled, func(string, time.Time) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk with a canceled context = %v", err)
	}
}

func TestDeletePrefixRemovesDirectory(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, k := range []string{"results/j1/default", "results/j1/x/y", "results/j2/default"} {
		if _, err := s.Put(ctx, k, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeletePrefix(ctx, "results/j1/"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "results", "j1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("results/j1 still there: %v", err)
	}
	if diff := cmp.Diff([]string{"results/j2/default"}, files(t, s.Dir())); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	if err := s.DeletePrefix(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Errorf("files after DeletePrefix(\"\"): %v", got)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after deleting everything: %v", err)
	}
}

func TestDeleteDirectoryKeyIsNoop(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.Put(ctx, "results/j/default", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "results/j"); err != nil {
		t.Errorf("Delete of a prefix directory: %v", err)
	}
	obj, err := s.Open(ctx, "results/j/default")
	if err != nil {
		t.Fatalf("object gone after deleting its directory's name: %v", err)
	}
	_ = obj.Close()
}

func TestPing(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := files(t, s.Dir()); len(got) != 0 {
		t.Errorf("Ping left files: %v", got)
	}
	if err := os.RemoveAll(s.Dir()); err != nil {
		t.Fatal(err)
	}
	err := s.Ping(ctx)
	if err == nil {
		t.Fatal("Ping with the directory gone succeeded")
	}
	if strings.Contains(err.Error(), s.Dir()) {
		t.Errorf("Ping error %q shows the directory", err)
	}
}

func TestPutCreatesFileWithContent(t *testing.T) {
	s := newStore(t)
	want := bytes.Repeat([]byte("pixmill"), 1000)
	if _, err := s.Put(t.Context(), "sources/id", bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.Dir(), "sources", "id"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("file content differs from what was put")
	}
}
