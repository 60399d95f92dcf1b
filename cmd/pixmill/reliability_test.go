package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCrashLosesNothing kills the process with SIGKILL while it processes a job and
// starts it again: every job it had accepted completes with a valid result.
func TestCrashLosesNothing(t *testing.T) {
	data := t.TempDir()
	env := []string{"PIXMILL_POOL_WORKERS=1", "PIXMILL_POOL_LEASE_DURATION=2s"}
	n := startNode(t, data, env...)
	img := readImage(t, "exif-orientation-1.jpg")
	var ids []string
	for range 5 {
		code, j, raw := n.upload(t, img, "p.jpg", "ops", "resize:w=400|sharpen:sigma=1")
		if code != http.StatusAccepted {
			t.Fatalf("upload: %d %s", code, raw)
		}
		ids = append(ids, j.ID)
	}
	// Wait until a job is being processed, then kill without warning.
	deadline := time.Now().Add(30 * time.Second)
	for !n.anyProcessing(t, ids) {
		if time.Now().After(deadline) {
			t.Fatal("no job started processing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.done

	// The restarted node requeues the dead node's job once its lease expires.
	n = startNode(t, data, env...)
	for _, id := range ids {
		j := n.waitDone(t, id)
		if b := n.download(t, j).Bounds(); b.Dx() != 400 {
			t.Errorf("job %s: width %d", id, b.Dx())
		}
	}
	n.stop()
}

func (n *node) anyProcessing(t *testing.T, ids []string) bool {
	for _, id := range ids {
		_, b, _ := n.get(t, "/v1/jobs/"+id)
		var j struct{ Status string }
		json.Unmarshal(b, &j)
		if j.Status == "processing" {
			return true
		}
	}
	return false
}

// TestHostileUploads sends broken, lying and malicious files: each is refused with a
// clear 4xx, or accepted and failed with a specific code; the process survives and
// its memory stays bounded.
func TestHostileUploads(t *testing.T) {
	n := startNode(t, t.TempDir(), "PIXMILL_POOL_WORKERS=1", "PIXMILL_LIMITS_MAX_PIXELS=20000000")
	jpeg := readImage(t, "exif-orientation-1.jpg")
	png := readImage(t, "png-rgba-transparency-200x150.png")
	gif := readImage(t, "gif-animated-42frames-local-palettes-245x245.gif")

	corruptPNG := bytes.Clone(png)
	for i := 200; i < len(corruptPNG)-100; i += 97 {
		corruptPNG[i] ^= 0x5a // damage the image data, keep the header
	}
	for _, tc := range []struct {
		name, filename string
		data           []byte
		status         int    // the upload's answer
		code           string // its error code, or the failed job's
	}{
		{"zero bytes", "empty.jpg", nil, 400, "invalid_request"},
		{"text named .jpg", "cat.jpg", []byte("just some text\n"), 415, "unsupported_media_type"},
		{"shell script named .png", "x.png", []byte("#!/bin/sh\necho pwned\n"), 415, "unsupported_media_type"},
		{"html named .gif", "x.gif", []byte("<html><script>alert(1)</script></html>"), 415, "unsupported_media_type"},
		{"png bomb header", "bomb.png", pngHeader(65536, 65536), 422, "image_too_large"},
		{"jpeg bomb header", "bomb.jpg", jpegClaiming(t, readImage(t, "jpeg-grayscale-128x128.jpg"), 65500, 65500), 422, "image_too_large"},
		{"tiff bomb header", "bomb.tiff", tiffHeader(100000, 100000), 422, "image_too_large"},
		{"gif bomb screen", "bomb.gif", gifHeader(65535, 65535, 1, 1), 422, "image_too_large"},
		{"gif frame larger than its screen", "frame.gif", gifHeader(16, 16, 60000, 60000), 0, ""},
		{"truncated jpeg", "half.jpg", jpeg[:len(jpeg)/2], 202, "corrupt_image"},
		{"truncated png", "half.png", png[:len(png)/2], 202, "corrupt_image"},
		{"truncated gif", "half.gif", gif[:len(gif)/3], 415, "unsupported_media_type"}, // frames are counted at upload
		{"corrupt png data", "bad.png", corruptPNG, 202, "corrupt_image"},
		{"arithmetic-coded jpeg", "arith.jpg", readImage(t, "jpeg-arithmetic-coded-10x10.jpg"), 415, "unsupported_media_type"},
		{"png named .jpg", "really-a-png.jpg", png, 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, j, raw := n.upload(t, tc.data, tc.filename, "ops", "resize:w=50")
			if tc.status == 0 { // any clear refusal or a failed job with a specific code
				if code == http.StatusAccepted {
					j = n.waitDone(t, j.ID)
					if j.Status != "failed" || j.Error == nil || j.Error.Code == "internal" {
						t.Errorf("job %+v", j)
					}
				} else if code < 400 || code >= 500 {
					t.Errorf("status %d: %s", code, raw)
				}
				return
			}
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, raw)
			}
			if code != http.StatusAccepted {
				if !strings.Contains(raw, `"code":"`+tc.code+`"`) {
					t.Errorf("error %s, want code %s", raw, tc.code)
				}
				return
			}
			j = n.waitDone(t, j.ID)
			switch {
			case tc.code == "" && j.Status != "completed":
				t.Errorf("job %+v, want completed", j)
			case tc.code != "" && (j.Status != "failed" || j.Error == nil || j.Error.Code != tc.code):
				t.Errorf("job %+v, want failed with %s", j, tc.code)
			}
		})
	}
	if code, _, _ := n.get(t, "/livez"); code != http.StatusOK {
		t.Fatalf("livez after hostile uploads: %d", code)
	}
	// One worker and no bomb decoded: far below the documented bound of
	// workers × max_pixels × 4 bytes × 3 copies (240 MB here) plus the runtime.
	if rss := peakRSSOf(t, n.cmd.Process.Pid); rss > 300<<20 {
		t.Errorf("peak RSS %d MB", rss>>20)
	} else {
		t.Logf("peak RSS of the server: %d MB", rss>>20)
	}
	n.stop()
}

func peakRSSOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// pngHeader is a PNG signature and an IHDR chunk claiming w×h RGBA, with no data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(ihdr))))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	b.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(chunk)))
	return b.Bytes()
}

// jpegClaiming returns a real JPEG with its SOF0 header rewritten to claim w×h.
func jpegClaiming(t *testing.T, real []byte, w, h uint16) []byte {
	t.Helper()
	b := bytes.Clone(real)
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// tiffHeader is a little-endian TIFF whose only IFD claims a w×h 8-bit grey image.
func tiffHeader(w, h uint32) []byte {
	type entry struct {
		tag, typ uint16
		val      uint32
	}
	entries := []entry{
		{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1},
		{273, 4, 0}, {277, 3, 1}, {278, 4, h}, {279, 4, 0},
	}
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		b = binary.LittleEndian.AppendUint32(b, e.val)
	}
	return binary.LittleEndian.AppendUint32(b, 0)
}

// gifHeader is a GIF with a sw×sh logical screen and one fw×fh frame of one pixel's
// worth of data.
func gifHeader(sw, sh, fw, fh uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, sw)
	b = binary.LittleEndian.AppendUint16(b, sh)
	b = append(b, 0x80, 0, 0, 0, 0, 0, 255, 255, 255) // 2-colour global table
	b = append(b, 0x2C, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, fw)
	b = binary.LittleEndian.AppendUint16(b, fh)
	b = append(b, 0, 2, 2, 0x4C, 0x01, 0, 0x3B)
	return b
}
