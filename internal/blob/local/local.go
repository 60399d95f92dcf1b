// Package local is the blob.Store that keeps objects as files below one directory of
// the local filesystem: the embedded default, for a single machine.
//
// A key maps to the file of the same slash-separated path below the directory. Every
// file access goes through an os.Root, so neither a crafted key nor a symbolic link
// can reach outside it. Writes go to a temporary file in the destination directory
// (named with TempPrefix) that is synced and renamed into place, so an object is
// always whole and a crash leaves at worst a stray temporary file, which Walk skips.
//
// Errors name keys, never the directory: clients may see messages.
package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pixmill/pixmill/internal/blob"
)

// TempPrefix starts the name of every temporary file the store writes. Keys whose
// segments start with it are rejected so that a temporary file is never an object.
const TempPrefix = ".tmp-"

const (
	dirPerm  fs.FileMode = 0o750
	filePerm fs.FileMode = 0o640
)

// Config configures a Store.
type Config struct {
	// Dir holds the objects; it is created if missing.
	Dir string
}

// DefaultConfig returns the configuration of the embedded default.
func DefaultConfig() Config {
	return Config{Dir: filepath.Join("storage", "blobs")}
}

// Validate reports whether c can be used.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Dir) == "" {
		return errors.New("local blob store: dir is required")
	}
	return nil
}

// Store is a blob.Store on the local filesystem. It is safe for concurrent use.
type Store struct {
	dir string // absolute
}

var _ blob.Store = (*Store)(nil)

// New creates cfg.Dir if needed and returns a Store on it.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local blob store: %w", err)
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("local blob store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("local blob store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("local blob store: %s is not a directory", dir)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the absolute directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// root opens the store's directory for one operation. A fresh Root per call costs one
// open(2) and means a Store needs no Close and follows the directory being replaced.
func (s *Store) root() (*os.Root, error) {
	r, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("open blob directory: %w", clean(err))
	}
	return r, nil
}

// Put writes r to a temporary file next to key's file, syncs it, renames it over the
// key and syncs the directory, so the object is whole and durable or absent.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	root, err := s.root()
	if err != nil {
		return 0, err
	}
	defer closeRoot(root)

	n, err := put(ctx, root, key, r)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return n, nil
}

func put(ctx context.Context, root *os.Root, key string, r io.Reader) (n int64, err error) {
	dir := path.Dir(key)
	tmp, f, created, err := createTemp(root, dir)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the error is not the interesting one
			_ = root.Remove(tmp)
		}
	}()

	n, err = copyChunked(f, ctxReader{ctx: ctx, r: r})
	if err != nil {
		return 0, clean(err)
	}
	if err := f.Sync(); err != nil {
		return 0, clean(err)
	}
	if err := f.Close(); err != nil {
		return 0, clean(err)
	}
	// A Put canceled after its last read must still leave nothing behind.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := root.Rename(tmp, key); err != nil {
		return 0, clean(err)
	}
	// The rename is durable once the directory is synced, and a directory made for
	// this Put once its parent is.
	for _, d := range append([]string{dir}, created...) {
		if err := syncDir(root, d); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// createTemp creates a temporary file in dir, creating dir as needed. It returns the
// parents of the directories it created, deepest first, which must be synced. A
// directory removed between its creation and the file's (by a concurrent
// DeletePrefix) is created again.
func createTemp(root *os.Root, dir string) (name string, f *os.File, synced []string, err error) {
	for attempt := 0; ; attempt++ {
		created, err := mkdirAll(root, dir)
		if err != nil {
			return "", nil, nil, err
		}
		synced = append(synced, created...)
		name = path.Join(dir, TempPrefix+rand.Text())
		f, err = root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if err == nil {
			return name, f, synced, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			return "", nil, nil, clean(err)
		}
	}
}

// mkdirAll creates dir and its missing parents below root and returns the parent of
// each directory it created, deepest first.
func mkdirAll(root *os.Root, dir string) ([]string, error) {
	if dir == "." {
		return nil, nil
	}
	if fi, err := root.Stat(dir); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is an object, not a prefix", dir)
		}
		return nil, nil
	}
	parents, err := mkdirAll(root, path.Dir(dir))
	if err != nil {
		return nil, err
	}
	switch err := root.Mkdir(dir, dirPerm); {
	case err == nil:
		return append([]string{path.Dir(dir)}, parents...), nil
	case errors.Is(err, fs.ErrExist):
		return parents, nil // made concurrently
	default:
		return nil, clean(err)
	}
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return clean(err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return clean(err)
}

// closeRoot closes a Root whose work is done; closing a directory handle fails only
// on misuse, and nothing was written through it that Close could lose.
func closeRoot(r *os.Root) { _ = r.Close() }

// chunkSize is what copyChunked hands the filesystem per write.
const chunkSize = 256 << 10

var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// copyChunked copies r to f in writes of chunkSize bytes (the last one shorter),
// however little each Read returns: a multipart file part yields 4 KiB at a time,
// which io.Copy turned into 205 write calls for a 0.84 MB upload.
func copyChunked(f *os.File, r io.Reader) (int64, error) {
	buf := chunks.Get().(*[chunkSize]byte)
	defer chunks.Put(buf)
	var n int64
	for {
		m := 0
		var err error
		for m < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[m:])
			m += k
		}
		if m > 0 {
			if _, werr := f.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF { //nolint:errorlint // io.EOF is returned as is, never wrapped
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// ctxReader stops a copy between reads once ctx is done.
type ctxReader struct {
	ctx context.Context //nolint:containedctx // lives for one io.Copy call only
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// object is an open file with the size and time it had when opened.
type object struct {
	*os.File
	size    int64
	modTime time.Time
}

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.modTime }

// Open opens key's file; an error wrapping blob.ErrNotFound when there is none.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	root, err := s.root()
	if err != nil {
		return nil, err
	}
	defer closeRoot(root) // an open file outlives its Root

	f, err := root.Open(key)
	if err != nil {
		if notExist(err) {
			return nil, fmt.Errorf("open %s: %w", key, blob.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", key, clean(err))
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: %w", key, clean(err))
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("open %s: %w", key, blob.ErrNotFound)
	}
	return &object{File: f, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// Delete removes key's file. A missing key, or a key that names a directory (a
// prefix of other keys, not an object), is left alone without error. Directories
// emptied by Delete are kept; DeletePrefix removes them.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer closeRoot(root)

	fi, err := root.Lstat(key)
	if err != nil {
		if notExist(err) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, clean(err))
	}
	if fi.IsDir() {
		return nil
	}
	if err := root.Remove(key); err != nil && !notExist(err) {
		return fmt.Errorf("delete %s: %w", key, clean(err))
	}
	return nil
}

// DeletePrefix removes every key that starts with prefix. Any string prefix works:
// "results/42/" removes that directory, "results/4" removes every key and directory
// in results/ whose name starts with "4", and "" removes every object. Temporary
// files of Puts in progress directly in the prefix's directory are left alone.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete prefix %s: %w", prefix, err)
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer closeRoot(root)

	dir, namePrefix := ".", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir, namePrefix = prefix[:i], prefix[i+1:]
	}
	entries, err := fs.ReadDir(root.FS(), dir)
	if err != nil {
		if notExist(err) {
			return nil
		}
		return fmt.Errorf("delete prefix %s: %w", prefix, clean(err))
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) || strings.HasPrefix(name, TempPrefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("delete prefix %s: %w", prefix, err)
		}
		if err := root.RemoveAll(path.Join(dir, name)); err != nil {
			return fmt.Errorf("delete prefix %s: %w", prefix, clean(err))
		}
	}
	// "results/42/" names a directory: it holds no key any more.
	if namePrefix == "" && dir != "." {
		if err := root.Remove(dir); err != nil && !notExist(err) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("delete prefix %s: %w", prefix, clean(err))
		}
	}
	return nil
}

// Ping checks that the directory exists and that a file can be created in it.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping blob directory: %w", err)
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("ping blob directory: %w", clean(err))
	}
	if !fi.IsDir() {
		return errors.New("ping blob directory: not a directory")
	}
	root, err := s.root()
	if err != nil {
		return err
	}
	defer closeRoot(root)

	name := TempPrefix + "ping-" + rand.Text()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("ping blob directory: %w", clean(err))
	}
	err = f.Close()
	if rerr := root.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("ping blob directory: %w", clean(err))
	}
	return nil
}

// Walk calls fn with every stored key, in lexical order, and its modification time.
// Temporary files are skipped. It stops at the first error fn returns, or when ctx
// is done.
func (s *Store) Walk(ctx context.Context, fn func(key string, modTime time.Time) error) error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer closeRoot(root)

	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name != "." && notExist(err) {
				return nil // removed while walking
			}
			return clean(err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), TempPrefix) || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if notExist(err) {
				return nil
			}
			return clean(err)
		}
		return fn(name, fi.ModTime())
	})
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	return nil
}

// checkKey rejects keys that are not clean relative slash paths: empty, absolute,
// with empty, "." or ".." segments, backslashes, NUL, or a temporary file's name.
func checkKey(key string) error {
	if key == "" {
		return invalidKey(key, "empty")
	}
	if strings.HasSuffix(key, "/") {
		return invalidKey(key, "ends with /")
	}
	return checkPrefix(key)
}

// checkPrefix is checkKey for a prefix: it may be empty or end with '/'.
func checkPrefix(p string) error {
	switch {
	case strings.ContainsAny(p, "\\\x00"):
		return invalidKey(p, "contains a backslash or NUL")
	case strings.HasPrefix(p, "/") || filepath.IsAbs(filepath.FromSlash(p)):
		return invalidKey(p, "absolute")
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch {
		case seg == "" && !last:
			return invalidKey(p, "empty segment")
		case seg == "." || seg == "..":
			return invalidKey(p, "dot segment")
		case strings.HasPrefix(seg, TempPrefix):
			return invalidKey(p, "reserved name")
		}
	}
	return nil
}

func invalidKey(key, why string) error {
	return fmt.Errorf("invalid blob key %q: %s", key, why)
}

// notExist reports errors that mean "no such object": a missing file, or a path
// through something that is not a directory.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// clean drops the path from filesystem errors so that messages never show where the
// store lives; callers add the key.
func clean(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// SweepTemp removes temporary files last modified before cutoff: what a Put left
// behind when the process died mid-write. It returns how many it removed.
func (s *Store) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	root, err := s.root()
	if err != nil {
		return 0, err
	}
	defer closeRoot(root)
	n := 0
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name != "." && notExist(err) {
				return nil
			}
			return clean(err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), TempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil //nolint:nilerr // gone already, or still being written
		}
		if err := root.Remove(name); err != nil && !notExist(err) {
			return clean(err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("sweep temporary files: %w", err)
	}
	return n, nil
}
