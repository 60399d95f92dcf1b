// Package config loads pixmill's settings: defaults for every key, then the YAML
// file, then PIXMILL_* environment variables, then command-line flags. It is the only
// importer of viper; everything else receives a plain Config.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is every setting of pixmill. The mapstructure names are the keys of
// configs/pixmill.yaml; the environment variable of a key is PIXMILL_ + the key
// upper-cased with '.' replaced by '_'.
type Config struct {
	Role    string `mapstructure:"role"`
	DataDir string `mapstructure:"data_dir"`

	Server struct {
		Addr            string        `mapstructure:"addr"`
		ReadTimeout     time.Duration `mapstructure:"read_timeout"`
		WriteTimeout    time.Duration `mapstructure:"write_timeout"`
		IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
		ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	} `mapstructure:"server"`

	Pool struct {
		Workers       int           `mapstructure:"workers"`
		MaxWorkers    int           `mapstructure:"max_workers"`
		IdleTimeout   time.Duration `mapstructure:"idle_timeout"`
		RateLimit     float64       `mapstructure:"rate_limit"`
		QueueCapacity int           `mapstructure:"queue_capacity"`
		MaxAttempts   int           `mapstructure:"max_attempts"`
		JobTimeout    time.Duration `mapstructure:"job_timeout"`
		LeaseDuration time.Duration `mapstructure:"lease_duration"`
	} `mapstructure:"pool"`

	Limits struct {
		MaxUploadBytes     int64 `mapstructure:"max_upload_bytes"`
		MaxPixels          int   `mapstructure:"max_pixels"`
		MaxOutputPixels    int   `mapstructure:"max_output_pixels"`
		MaxDimension       int   `mapstructure:"max_dimension"`
		MaxOps             int   `mapstructure:"max_ops"`
		MaxVariants        int   `mapstructure:"max_variants"`
		MaxFrames          int   `mapstructure:"max_frames"`
		MaxAnimationPixels int   `mapstructure:"max_animation_pixels"`
		MaxWatermarkPixels int   `mapstructure:"max_watermark_pixels"`
	} `mapstructure:"limits"`

	Retention struct {
		TTL      time.Duration `mapstructure:"ttl"`
		Interval time.Duration `mapstructure:"interval"`
		Grace    time.Duration `mapstructure:"grace"`
	} `mapstructure:"retention"`

	Processing struct {
		JPEGQuality    int    `mapstructure:"jpeg_quality"`
		PNGCompression string `mapstructure:"png_compression"`
		Background     string `mapstructure:"background"`
		WebPQuality    int    `mapstructure:"webp_quality"`
		WebPMethod     int    `mapstructure:"webp_method"`
		ShrinkOnLoad   bool   `mapstructure:"shrink_on_load"`
		TwoStageResize bool   `mapstructure:"two_stage_resize"`
		// Watermarks names the images the watermark op may draw: name → file.
		Watermarks map[string]string `mapstructure:"watermarks"`
	} `mapstructure:"processing"`

	// Presets are named recipes a client asks for with preset=<name>.
	Presets map[string]Preset `mapstructure:"presets"`

	Store struct {
		Driver   string `mapstructure:"driver"`
		Postgres struct {
			DSN      string `mapstructure:"dsn"`
			MaxConns int    `mapstructure:"max_conns"`
		} `mapstructure:"postgres"`
	} `mapstructure:"store"`

	Blob struct {
		Driver string `mapstructure:"driver"`
		S3     struct {
			Endpoint         string        `mapstructure:"endpoint"`
			Bucket           string        `mapstructure:"bucket"`
			Region           string        `mapstructure:"region"`
			AccessKeyID      string        `mapstructure:"access_key_id"`
			SecretAccessKey  string        `mapstructure:"secret_access_key"`
			PathStyle        bool          `mapstructure:"path_style"`
			Prefix           string        `mapstructure:"prefix"`
			PresignDownloads bool          `mapstructure:"presign_downloads"`
			PresignTTL       time.Duration `mapstructure:"presign_ttl"`
		} `mapstructure:"s3"`
	} `mapstructure:"blob"`

	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
}

// Preset is a named spec: ops in either form (compact or JSON), an output format
// and quality.
type Preset struct {
	Ops     string `mapstructure:"ops"`
	Format  string `mapstructure:"format"`
	Quality int    `mapstructure:"quality"`
}

// defaults holds the default of every key. Every key must be here: viper's Unmarshal
// ignores environment variables for keys it has never heard of.
func defaults() map[string]any {
	return map[string]any{
		"role":                        "all",
		"data_dir":                    "storage",
		"server.addr":                 ":8080",
		"server.read_timeout":         "60s",
		"server.write_timeout":        "60s",
		"server.idle_timeout":         "60s",
		"server.shutdown_timeout":     "30s",
		"pool.workers":                0, // one per CPU
		"pool.max_workers":            0,
		"pool.idle_timeout":           "30s",
		"pool.rate_limit":             0,
		"pool.queue_capacity":         1000,
		"pool.max_attempts":           3,
		"pool.job_timeout":            "2m",
		"pool.lease_duration":         "30s",
		"limits.max_upload_bytes":     52428800,
		"limits.max_pixels":           50000000,
		"limits.max_output_pixels":    50000000,
		"limits.max_dimension":        16384,
		"limits.max_ops":              20,
		"limits.max_variants":         10,
		"limits.max_frames":           500,
		"limits.max_animation_pixels": 200000000,
		"limits.max_watermark_pixels": 4000000,
		"retention.ttl":               "24h",
		"retention.interval":          "10m",
		"retention.grace":             "1h",
		"processing.jpeg_quality":     85,
		"processing.png_compression":  "speed",
		"processing.background":       "ffffff",
		"processing.webp_quality":     80,
		"processing.webp_method":      2,
		"processing.shrink_on_load":   true,
		"processing.two_stage_resize": true,
		"processing.watermarks":       map[string]any{},
		"presets": map[string]any{
			"thumbnail": map[string]any{"ops": "thumbnail:w=200,h=200", "format": "jpeg", "quality": 80},
			"web-large": map[string]any{"ops": "fit:w=1600,h=1600|sharpen:sigma=0.5", "format": "jpeg", "quality": 85},
			"avatar":    map[string]any{"ops": "fill:w=256,h=256,anchor=center", "format": "png", "quality": 0},
		},
		"store.driver":              "sqlite",
		"store.postgres.dsn":        "",
		"store.postgres.max_conns":  10,
		"blob.driver":               "local",
		"blob.s3.endpoint":          "",
		"blob.s3.bucket":            "",
		"blob.s3.region":            "us-east-1",
		"blob.s3.access_key_id":     "",
		"blob.s3.secret_access_key": "",
		"blob.s3.path_style":        false,
		"blob.s3.prefix":            "",
		"blob.s3.presign_downloads": false,
		"blob.s3.presign_ttl":       "15m",
		"log.level":                 "info",
		"log.format":                "json",
	}
}

// DefaultFile is read when neither --config nor PIXMILL_CONFIG names a file and it
// exists, so that `pixmill serve` run from the repository picks up its settings.
const DefaultFile = "configs/pixmill.yaml"

const secretEnv = "PIXMILL_BLOB_S3_SECRET_ACCESS_KEY"

// flagKeys binds the common settings to flags, key by key.
var flagKeys = map[string]string{
	"addr": "server.addr", "data-dir": "data_dir", "workers": "pool.workers",
	"role": "role", "log-level": "log.level",
}

// Load builds the Config from defaults, the config file, PIXMILL_* environment
// variables and args (the flags after the subcommand), later ones winning. A --help
// request prints usage to usage and returns pflag.ErrHelp.
func Load(args []string, usage io.Writer) (Config, error) {
	fset := pflag.NewFlagSet("pixmill serve", pflag.ContinueOnError)
	fset.SetOutput(usage)
	file := fset.String("config", "", "config file (default "+DefaultFile+" when it exists; env PIXMILL_CONFIG)")
	fset.String("addr", "", "listen address (server.addr)")
	fset.String("data-dir", "", "data directory for the SQLite file and local files (data_dir)")
	fset.Int("workers", 0, "worker goroutines (pool.workers)")
	fset.String("role", "", "api, worker or all (role)")
	fset.String("log-level", "", "debug, info, warn or error (log.level)")
	if err := fset.Parse(args); err != nil {
		return Config{}, err
	}
	if fset.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fset.Arg(0))
	}

	v := viper.New()
	known := defaults()
	for k, d := range known {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("PIXMILL")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	for name, key := range flagKeys {
		// Only a flag given on the command line overrides; its zero default does not.
		if f := fset.Lookup(name); f.Changed {
			if err := v.BindPFlag(key, f); err != nil {
				return Config{}, fmt.Errorf("bind flag --%s: %w", name, err)
			}
		}
	}

	path := *file
	if path == "" {
		path = os.Getenv("PIXMILL_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return Config{}, fmt.Errorf("config file %s does not exist", path)
			}
			return Config{}, fmt.Errorf("read config file %s: %w", path, err)
		}
		// Secrets come from the environment only, never from a file someone commits.
		if os.Getenv(secretEnv) == "" && v.GetString("blob.s3.secret_access_key") != "" {
			return Config{}, fmt.Errorf("config file %s: set blob.s3.secret_access_key with %s, not in a file", path, secretEnv)
		}
		for _, k := range v.AllKeys() {
			if _, ok := known[k]; !ok && !isPresetKey(k) && !strings.HasPrefix(k, "processing.watermarks.") {
				return Config{}, fmt.Errorf("config file %s: unknown key %q", path, k)
			}
		}
	}

	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if c.Pool.Workers == 0 {
		c.Pool.Workers = runtime.NumCPU()
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// isPresetKey accepts presets.<name>.ops|format|quality: preset names are the user's.
func isPresetKey(k string) bool {
	rest, ok := strings.CutPrefix(k, "presets.")
	if !ok {
		return false
	}
	_, field, ok := strings.Cut(rest, ".")
	return ok && (field == "ops" || field == "format" || field == "quality")
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Role == "all" || c.Role == "api" || c.Role == "worker", "role: %q is not api, worker or all", c.Role)
	check(c.DataDir != "", "data_dir: must not be empty")
	check(c.Server.Addr != "", "server.addr: must not be empty")
	check(c.Server.ShutdownTimeout > 0, "server.shutdown_timeout: must be positive")
	check(c.Pool.Workers >= 1, "pool.workers: must be at least 1")
	check(c.Pool.MaxWorkers == 0 || c.Pool.MaxWorkers >= c.Pool.Workers, "pool.max_workers: must be 0 (fixed pool) or at least pool.workers")
	check(c.Pool.IdleTimeout > 0, "pool.idle_timeout: must be positive")
	check(c.Pool.RateLimit >= 0, "pool.rate_limit: must not be negative")
	check(c.Pool.QueueCapacity >= 1, "pool.queue_capacity: must be at least 1")
	check(c.Pool.MaxAttempts >= 1, "pool.max_attempts: must be at least 1")
	check(c.Pool.JobTimeout > 0, "pool.job_timeout: must be positive")
	check(c.Pool.LeaseDuration >= time.Second, "pool.lease_duration: must be at least 1s")
	check(c.Retention.TTL >= 0, "retention.ttl: must not be negative (0 keeps jobs forever)")
	check(c.Retention.Interval > 0, "retention.interval: must be positive")
	check(c.Retention.Grace > 0, "retention.grace: must be positive")
	check(c.Limits.MaxUploadBytes >= 1, "limits.max_upload_bytes: must be positive")
	check(c.Limits.MaxPixels >= 1, "limits.max_pixels: must be positive")
	check(c.Limits.MaxOutputPixels >= 1, "limits.max_output_pixels: must be positive")
	check(c.Limits.MaxDimension >= 1, "limits.max_dimension: must be positive")
	check(c.Limits.MaxOps >= 1, "limits.max_ops: must be positive")
	check(c.Limits.MaxVariants >= 1, "limits.max_variants: must be positive")
	check(c.Limits.MaxFrames >= 1, "limits.max_frames: must be positive")
	check(c.Limits.MaxAnimationPixels >= 1, "limits.max_animation_pixels: must be positive")
	check(c.Limits.MaxWatermarkPixels >= 1, "limits.max_watermark_pixels: must be positive")
	check(c.Store.Driver == "sqlite" || c.Store.Driver == "postgres", "store.driver: %q is not sqlite or postgres", c.Store.Driver)
	check(c.Store.Driver != "postgres" || c.Store.Postgres.DSN != "", "store.postgres.dsn: required when store.driver is postgres")
	check(c.Blob.Driver == "local" || c.Blob.Driver == "s3", "blob.driver: %q is not local or s3", c.Blob.Driver)
	check(c.Store.Postgres.MaxConns >= 1, "store.postgres.max_conns: must be at least 1")
	check(c.Blob.Driver != "s3" || c.Blob.S3.Bucket != "", "blob.s3.bucket: required when blob.driver is s3")
	check(c.Blob.Driver != "s3" || (c.Blob.S3.AccessKeyID != "" && c.Blob.S3.SecretAccessKey != ""),
		"blob.s3.access_key_id and PIXMILL_BLOB_S3_SECRET_ACCESS_KEY: required when blob.driver is s3")
	check(c.Blob.S3.PresignTTL > 0 && c.Blob.S3.PresignTTL <= 7*24*time.Hour, "blob.s3.presign_ttl: must be positive and at most 168h")
	check(c.Log.Format == "json" || c.Log.Format == "text", "log.format: %q is not json or text", c.Log.Format)
	return errors.Join(errs...)
}

// SQLitePath is where the embedded store keeps its database.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "pixmill.db") }

// BlobDir is where the local blob store keeps files.
func (c Config) BlobDir() string { return filepath.Join(c.DataDir, "files") }
