// Command pixmill is the asynchronous image-processing service. `pixmill serve` (the
// default subcommand) runs a node; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/pixmill/pixmill/internal/app"
	"github.com/pixmill/pixmill/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "pixmill:", err)
			os.Exit(1)
		}
	}
}

const usage = `pixmill: asynchronous image processing

Usage:
  pixmill [serve] [flags]    run a node (api and workers; --role chooses)
  pixmill help               this text

Run "pixmill serve --help" for the flags. Every setting is also read from
configs/pixmill.yaml and PIXMILL_* environment variables.
`

// run is main without the process: tests call it with their own context, arguments
// and output.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := config.Load(args, stderr)
		if err != nil {
			return err
		}
		log, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return err
		}
		return app.Run(ctx, cfg, log)
	case "help":
		_, err := io.WriteString(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown command %q (run \"pixmill help\")", cmd)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
