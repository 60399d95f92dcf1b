package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pixmill/pixmill/internal/blob/local"
)

// Floor is what the least a durable asynchronous image service has to do per job
// costs on this machine, image work aside: receive the upload over loopback HTTP
// and write it durably, write a result of the run's output size durably, and send
// that result back on a second request. It is measured in this process, clients
// and server together, with pixmill's own file store (temporary file, fsync,
// rename, directory fsync) in a temporary directory; there is no job store, no
// status request and no queue, so pixmill's overhead can only be higher.
//
// When the CPUs are what limits throughput, end-to-end jobs/s can be at most
// in-process CPU / (in-process CPU + floor) of the in-process jobs/s: BestRatio.
type Floor struct {
	Jobs      int     `json:"jobs"`
	CPUPerJob float64 `json:"cpu_ms_per_job"` // user + system of this process, per job
	BestRatio float64 `json:"best_ratio,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// measureFloor runs jobs uploads of p at conc in flight against an in-process
// durable store server whose results are resultBytes long.
func measureFloor(ctx context.Context, p payload, resultBytes int64, jobs, conc int) (Floor, error) {
	dir, err := os.MkdirTemp("", "pixmill-bench-floor-")
	if err != nil {
		return Floor{}, fmt.Errorf("floor: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	store, err := local.New(local.Config{Dir: dir})
	if err != nil {
		return Floor{}, fmt.Errorf("floor: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Floor{}, fmt.Errorf("floor: %w", err)
	}
	srv := &http.Server{Handler: floorHandler(store, bytes.Repeat([]byte{0x5a}, int(resultBytes))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*conc, 2*conc
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	base := "http://" + ln.Addr().String()

	// Two jobs per client first: connections open, buffers grown.
	if err := floorJobs(ctx, hc, base, p, 2*conc, conc); err != nil {
		return Floor{}, err
	}
	before, err := selfCPU()
	if err != nil {
		return Floor{}, err
	}
	if err := floorJobs(ctx, hc, base, p, jobs, conc); err != nil {
		return Floor{}, err
	}
	after, err := selfCPU()
	if err != nil {
		return Floor{}, err
	}
	return Floor{Jobs: jobs, CPUPerJob: float64(after-before) / float64(time.Millisecond) / float64(jobs)}, nil
}

// floorJobs runs n upload + download pairs from conc clients; the first error
// stops them.
func floorJobs(ctx context.Context, hc *http.Client, base string, p payload, n, conc int) error {
	var (
		left     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	left.Store(int64(n))
	for range conc {
		wg.Go(func() {
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				if err := floorJob(ctx, hc, base, p); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					left.Store(0)
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("floor: %w", firstErr)
	}
	return ctx.Err()
}

func floorJob(ctx context.Context, hc *http.Client, base string, p payload) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/up", bytes.NewReader(p.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", p.contentType)
	id, err := floorDo(hc, req)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/down/"+string(id), nil)
	if err != nil {
		return err
	}
	if _, err := floorDo(hc, req); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return nil
}

// floorDo sends req and returns the body of a 200 answer.
func floorDo(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// floorHandler stores each upload's file part and a result, answering the job's
// number, and serves results back.
func floorHandler(store *local.Store, result []byte) http.Handler {
	var next atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				http.Error(w, "no file part", http.StatusBadRequest)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if part.FormName() != "file" {
				_, _ = io.Copy(io.Discard, part)
				continue
			}
			id := strconv.FormatInt(next.Add(1), 10)
			if _, err := store.Put(r.Context(), "sources/"+id, part); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if _, err := store.Put(r.Context(), "results/"+id+"/default", bytes.NewReader(result)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, id)
			return
		}
	})
	mux.HandleFunc("GET /down/{id}", func(w http.ResponseWriter, r *http.Request) {
		obj, err := store.Open(r.Context(), "results/"+r.PathValue("id")+"/default")
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer obj.Close()
		_, _ = io.Copy(w, obj)
	})
	return mux
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
