package config

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// inTempDir runs the test in an empty directory, so configs/pixmill.yaml of the
// repository is not picked up.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func TestDefaults(t *testing.T) {
	inTempDir(t)
	c, err := Load(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != ":8080" || c.DataDir != "storage" || c.Role != "all" ||
		c.Store.Driver != "sqlite" || c.Blob.Driver != "local" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Pool.Workers != runtime.NumCPU() || c.Pool.QueueCapacity != 1000 {
		t.Errorf("pool defaults: %+v", c.Pool)
	}
	if c.Limits.MaxUploadBytes != 52428800 || c.Limits.MaxPixels != 50000000 {
		t.Errorf("limit defaults: %+v", c.Limits)
	}
	if c.Server.ShutdownTimeout != 30*time.Second || c.Blob.S3.Region != "us-east-1" {
		t.Errorf("server/s3 defaults: %+v %+v", c.Server, c.Blob.S3)
	}
	if c.SQLitePath() != filepath.Join("storage", "pixmill.db") {
		t.Errorf("sqlite path %s", c.SQLitePath())
	}
}

func TestPrecedence(t *testing.T) {
	dir := inTempDir(t)
	file := filepath.Join(dir, "c.yaml")
	yaml := "server:\n  addr: \":7000\"\npool:\n  workers: 3\n  queue_capacity: 5\nlimits:\n  max_pixels: 1000\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PIXMILL_POOL_WORKERS", "7")
	t.Setenv("PIXMILL_LIMITS_MAX_UPLOAD_BYTES", "1234")
	c, err := Load([]string{"--config", file, "--addr", "127.0.0.1:9000"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:9000" {
		t.Errorf("flag should win over file: %s", c.Server.Addr)
	}
	if c.Pool.Workers != 7 {
		t.Errorf("env should win over file: workers %d", c.Pool.Workers)
	}
	if c.Pool.QueueCapacity != 5 || c.Limits.MaxPixels != 1000 {
		t.Errorf("file should win over defaults: %+v %+v", c.Pool, c.Limits)
	}
	if c.Limits.MaxUploadBytes != 1234 {
		t.Errorf("env key absent from file: %d", c.Limits.MaxUploadBytes)
	}
}

func TestShippedFileIsValidAndDefault(t *testing.T) {
	inTempDir(t)
	want, err := Load(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load([]string{"--config", filepath.Join(repoRoot(t), DefaultFile)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configs/pixmill.yaml differs from the built-in defaults:\n file: %+v\n code: %+v", got, want)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestErrors(t *testing.T) {
	dir := inTempDir(t)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("pool:\n  wokers: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "does not exist"},
		{"unknown key", []string{"--config", bad}, nil, `unknown key "pool.wokers"`},
		{"bad role", []string{"--role", "boss"}, nil, "role"},
		{"bad workers", nil, map[string]string{"PIXMILL_POOL_WORKERS": "-1"}, "pool.workers"},
		{"postgres without dsn", nil, map[string]string{"PIXMILL_STORE_DRIVER": "postgres"}, "store.postgres.dsn"},
		{"unknown flag", []string{"--nope"}, nil, "unknown flag"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load(tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestPresets(t *testing.T) {
	dir := inTempDir(t)
	file := filepath.Join(dir, "p.yaml")
	yaml := "presets:\n  banner:\n    ops: \"fill:w=1200,h=300\"\n    format: webp\n    quality: 70\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config", file}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Presets["banner"]; got != (Preset{Ops: "fill:w=1200,h=300", Format: "webp", Quality: 70}) {
		t.Errorf("banner preset %+v", got)
	}
	if _, ok := c.Presets["thumbnail"]; !ok {
		t.Error("built-in presets are gone once a file adds one")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("presets:\n  x:\n    opz: blur\n"), 0o600)
	if _, err := Load([]string{"--config", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "presets.x.opz") {
		t.Errorf("misspelt preset field: %v", err)
	}
}

func TestSecretOnlyFromEnvironment(t *testing.T) {
	dir := inTempDir(t)
	file := filepath.Join(dir, "s.yaml")
	os.WriteFile(file, []byte("blob:\n  s3:\n    secret_access_key: hunter2\n"), 0o600)
	if _, err := Load([]string{"--config", file}, io.Discard); err == nil || !strings.Contains(err.Error(), secretEnv) {
		t.Errorf("secret in a file: %v", err)
	}
	t.Setenv(secretEnv, "from-env")
	os.WriteFile(file, []byte("blob:\n  s3:\n    bucket: b\n"), 0o600)
	c, err := Load([]string{"--config", file}, io.Discard)
	if err != nil || c.Blob.S3.SecretAccessKey != "from-env" {
		t.Errorf("secret from the environment: %q %v", c.Blob.S3.SecretAccessKey, err)
	}
}
