package job_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pixmill/pixmill/internal/job"
)

// equateEmpty makes a nil and an empty op list the same: both mean "no ops".
var equateEmpty = cmpopts.EquateEmpty()

func TestParseOpsCompactAndJSONAgree(t *testing.T) {
	tests := []struct {
		name    string
		compact string
		json    string
		want    []job.Op
	}{
		{
			name:    "resize and blur",
			compact: "resize:w=800|blur:sigma=1.5",
			json:    `[{"op":"resize","width":800},{"op":"blur","sigma":1.5}]`,
			want:    []job.Op{{Name: "resize", Width: 800}, {Name: "blur", Sigma: 1.5}},
		},
		{
			name:    "long names",
			compact: "fit:width=300,height=200,filter=box",
			json:    `[{"op":"fit","width":300,"height":200,"filter":"box"}]`,
			want:    []job.Op{{Name: "fit", Width: 300, Height: 200, Filter: "box"}},
		},
		{
			name:    "fill with anchor",
			compact: "fill:w=100,h=100,anchor=top-left",
			json:    `[{"op":"fill","width":100,"height":100,"anchor":"top-left"}]`,
			want:    []job.Op{{Name: "fill", Width: 100, Height: 100, Anchor: "top-left"}},
		},
		{
			name:    "crop rect",
			compact: "crop:x=10,y=20,w=30,h=40",
			json:    `[{"op":"crop","x":10,"y":20,"width":30,"height":40}]`,
			want:    []job.Op{{Name: "crop", X: 10, Y: 20, Width: 30, Height: 40}},
		},
		{
			name:    "rotate with background",
			compact: "rotate:angle=-12.5,background=ff000080",
			json:    `[{"op":"rotate","angle":-12.5,"background":"ff000080"}]`,
			want:    []job.Op{{Name: "rotate", Angle: -12.5, Background: "ff000080"}},
		},
		{
			name:    "no-parameter ops and the rest",
			compact: "flip:direction=h|transpose|grayscale|brightness:percent=-20|gamma:gamma=2.2|saturation:percent=150",
			json: `[{"op":"flip","direction":"h"},{"op":"transpose"},{"op":"grayscale"},
				{"op":"brightness","percent":-20},{"op":"gamma","gamma":2.2},{"op":"saturation","percent":150}]`,
			want: []job.Op{
				{Name: "flip", Direction: "h"}, {Name: "transpose"}, {Name: "grayscale"},
				{Name: "brightness", Percent: -20}, {Name: "gamma", Gamma: 2.2}, {Name: "saturation", Percent: 150},
			},
		},
		{
			name:    "watermark",
			compact: "watermark:image=logo.v2,anchor=top-left,margin=12,opacity=0.5,scale=0.25",
			json:    `[{"op":"watermark","image":"logo.v2","anchor":"top-left","margin":12,"opacity":0.5,"scale":0.25}]`,
			want:    []job.Op{{Name: "watermark", Image: "logo.v2", Anchor: "top-left", Margin: 12, Opacity: 0.5, Scale: 0.25}},
		},
		{
			name:    "whitespace everywhere",
			compact: "  resize : w = 800 , h=600 |  blur:sigma= 1.5  ",
			json:    " \n [ {\"op\": \"resize\", \"width\": 800, \"height\": 600},\n {\"op\":\"blur\",\"sigma\":1.5} ] \t",
			want:    []job.Op{{Name: "resize", Width: 800, Height: 600}, {Name: "blur", Sigma: 1.5}},
		},
		{
			name:    "op with an empty parameter list",
			compact: "invert:",
			json:    `[{"op":"invert"}]`,
			want:    []job.Op{{Name: "invert"}},
		},
		{
			name:    "empty",
			compact: "",
			json:    "[]",
			want:    nil,
		},
		{
			name:    "blank",
			compact: " \t\n",
			json:    " [ ] ",
			want:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range []string{tt.compact, tt.json} {
				got, err := job.ParseOps(in)
				if err != nil {
					t.Fatalf("ParseOps(%q): %v", in, err)
				}
				if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
					t.Errorf("ParseOps(%q) (-want +got):\n%s", in, diff)
				}
			}
		})
	}
}

func TestParseOpsAliases(t *testing.T) {
	short, err := job.ParseOps("thumbnail:w=64,h=48")
	if err != nil {
		t.Fatal(err)
	}
	long, err := job.ParseOps("thumbnail:width=64,height=48")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(long, short); diff != "" {
		t.Errorf("w/h and width/height differ (-long +short):\n%s", diff)
	}
}

func TestParseOpsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "parameter without =", in: "resize:w800"},
		{name: "parameter without value", in: "resize:w="},
		{name: "parameter without key", in: "resize:=800"},
		{name: "trailing comma", in: "resize:w=800,"},
		{name: "non-integer width", in: "resize:w=abc"},
		{name: "fractional width", in: "resize:w=1.5"},
		{name: "integer overflow", in: "resize:w=99999999999999999999999"},
		{name: "non-number sigma", in: "blur:sigma=lots"},
		{name: "float overflow", in: "blur:sigma=1e400"},
		{name: "NaN sigma", in: "blur:sigma=NaN"},
		{name: "infinite percent", in: "brightness:percent=-inf"},
		{name: "unknown parameter", in: "resize:colour=red"},
		{name: "fractional margin", in: "watermark:image=logo,margin=1.5"},
		{name: "non-number opacity", in: "watermark:image=logo,opacity=half"},
		{name: "NaN scale", in: "watermark:image=logo,scale=NaN"},
		{name: "empty op name", in: "resize:w=1||blur:sigma=1"},
		{name: "empty op name before colon", in: ":w=1"},
		{name: "leading bar", in: "|resize:w=1"},
		{name: "trailing bar", in: "resize:w=1|"},
		{name: "JSON unknown field", in: `[{"op":"resize","colour":"red"}]`},
		{name: "JSON compact alias", in: `[{"op":"resize","w":800}]`},
		{name: "JSON wrong type", in: `[{"op":"resize","width":"800"}]`},
		{name: "JSON fractional width", in: `[{"op":"resize","width":1.5}]`},
		{name: "JSON not an array of objects", in: `[1, 2]`},
		{name: "JSON syntax", in: `[{"op":"resize"`},
		{name: "JSON trailing value", in: `[{"op":"resize","width":1}] [{"op":"blur"}]`},
		{name: "JSON trailing garbage", in: `[] x`},
		{name: "JSON trailing bracket", in: `[{"op":"resize","width":1}]]`},
		{name: "JSON trailing brace", in: `[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops, err := job.ParseOps(tt.in)
			if err == nil {
				t.Fatalf("ParseOps(%q) = %+v, want an error", tt.in, ops)
			}
			if code := job.ErrorCode(err); code != job.CodeInvalid {
				t.Errorf("ParseOps(%q) error code = %q, want %q (%v)", tt.in, code, job.CodeInvalid, err)
			}
			if job.ErrorMessage(err) == "" {
				t.Errorf("ParseOps(%q): empty client message", tt.in)
			}
		})
	}
}

func TestUnmarshalOps(t *testing.T) {
	want := []job.Op{{Name: "resize", Width: 800}, {Name: "blur", Sigma: 1.5}}
	tests := []struct {
		name string
		raw  string
		want []job.Op
	}{
		{"compact string", `"resize:w=800|blur:sigma=1.5"`, want},
		{"array", `[{"op":"resize","width":800},{"op":"blur","sigma":1.5}]`, want},
		{"array with spaces", " \n[{\"op\":\"resize\",\"width\":800},{\"op\":\"blur\",\"sigma\":1.5}]\n", want},
		{"string holding JSON", `"[{\"op\":\"resize\",\"width\":800},{\"op\":\"blur\",\"sigma\":1.5}]"`, want},
		{"escaped compact string", `"resize:w=800\u007cblur:sigma=1.5"`, want},
		{"empty string", `""`, nil},
		{"empty array", `[]`, nil},
		{"null", `null`, nil},
		{"nothing", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := job.UnmarshalOps(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatalf("UnmarshalOps(%s): %v", tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got, equateEmpty); diff != "" {
				t.Errorf("UnmarshalOps(%s) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}

	bad := []string{
		`"resize:w=abc"`,
		`"unterminated`,
		`{"op":"resize"}`,
		`42`,
		`[{"op":"resize","colour":"red"}]`,
	}
	for _, raw := range bad {
		ops, err := job.UnmarshalOps(json.RawMessage(raw))
		if err == nil {
			t.Errorf("UnmarshalOps(%s) = %+v, want an error", raw, ops)
			continue
		}
		if code := job.ErrorCode(err); code != job.CodeInvalid {
			t.Errorf("UnmarshalOps(%s) error code = %q, want %q", raw, code, job.CodeInvalid)
		}
	}
}

// TestUnmarshalOpsInStruct checks the way the API reads ops inside a larger JSON
// body: a json.RawMessage field handed to UnmarshalOps.
func TestUnmarshalOpsInStruct(t *testing.T) {
	var body struct {
		Ops json.RawMessage `json:"ops"`
	}
	for _, in := range []string{`{"ops":"resize:w=10"}`, `{"ops":[{"op":"resize","width":10}]}`} {
		if err := json.Unmarshal([]byte(in), &body); err != nil {
			t.Fatal(err)
		}
		got, err := job.UnmarshalOps(body.Ops)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if diff := cmp.Diff([]job.Op{{Name: "resize", Width: 10}}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", in, diff)
		}
	}
}
