package job_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
)

// FuzzParseOps checks that ParseOps never panics, that what it parses survives a
// trip through JSON unchanged (the form jobs are stored in), and that Validate copes
// with whatever it returns.
func FuzzParseOps(f *testing.F) {
	for _, s := range []string{
		"",
		"resize:w=800|blur:sigma=1.5",
		"fit:width=300,height=200,filter=box",
		"fill:w=100,h=100,anchor=top-left",
		"crop:x=10,y=20,w=30,h=40|rotate:angle=-12.5,background=ff000080",
		"flip:direction=h|transpose|grayscale|brightness:percent=-20|gamma:gamma=2.2",
		"  resize : w = 800 , h=600 |  blur:sigma= 1.5  ",
		"watermark:image=logo,anchor=top-left,margin=12,opacity=0.5,scale=0.25",
		`[{"op":"watermark","image":"logo.v2","margin":3,"opacity":1,"scale":0.1}]`,
		"resize:w=abc",
		"blur:sigma=NaN",
		"a:b=c,d=e|:|",
		`[{"op":"resize","width":800},{"op":"blur","sigma":1.5}]`,
		`[{"op":"crop","x":1,"y":2,"width":3,"height":4,"anchor":"top"}]`,
		`[{"op":"rotate","angle":1e-3,"background":"#fff"}]`,
		`[{"op":"resize","colour":"red"}]`,
		`[{"op":"resize"}]]`,
		`[] x`,
		`[{"op":"\u00e9"}]`,
	} {
		f.Add(s)
	}
	lim := job.Limits{MaxOps: 10, MaxVariants: 4, MaxDimension: 10000, MaxOutputPixels: 50_000_000}

	f.Fuzz(func(t *testing.T, s string) {
		ops, err := job.ParseOps(s)
		if err != nil {
			if code := job.ErrorCode(err); code != job.CodeInvalid {
				t.Fatalf("ParseOps(%q) error code = %q, want %q (%v)", s, code, job.CodeInvalid, err)
			}
			return
		}

		// Validate must not panic, and must report only invalid_request.
		valid := true
		for _, op := range ops {
			if err := op.Validate(lim); err != nil {
				valid = false
				if code := job.ErrorCode(err); code != job.CodeInvalid {
					t.Fatalf("Validate(%+v) error code = %q (%v)", op, code, err)
				}
			}
		}
		spec := job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant, Ops: ops}}}
		if err := spec.Validate(lim); err != nil && job.ErrorCode(err) != job.CodeInvalid {
			t.Fatalf("Spec.Validate error code = %q (%v)", job.ErrorCode(err), err)
		}

		// A nil list would marshal as null, which only UnmarshalOps reads as empty.
		b, err := json.Marshal(append([]job.Op{}, ops...))
		if err != nil {
			// Only numbers JSON cannot hold (NaN, ±Inf, which the compact form's
			// strconv.ParseFloat accepts) fail here, and Validate rejects those.
			if valid {
				t.Fatalf("ops %+v pass Validate but do not marshal: %v", ops, err)
			}
			return
		}
		if !utf8.ValidString(s) && !valid {
			// JSON replaces invalid UTF-8 with U+FFFD; Validate rejects the strings
			// that hold it, so only valid ops must survive unchanged.
			return
		}
		back, err := job.ParseOps(string(b))
		if err != nil {
			t.Fatalf("ParseOps(%q) = %+v, whose JSON %s does not parse: %v", s, ops, b, err)
		}
		if diff := cmp.Diff(ops, back, equateEmpty); diff != "" {
			t.Fatalf("ParseOps(%q) changed through JSON %s (-before +after):\n%s", s, b, diff)
		}
	})
}
