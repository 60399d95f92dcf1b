package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseOps parses an operation list in either of its two forms, which mean the same:
//
//	JSON:    [{"op":"resize","width":800},{"op":"blur","sigma":1.5}]
//	compact: resize:w=800|blur:sigma=1.5
//
// In the compact form operations are separated by '|', parameters by ',', and width
// and height may be written w and h. An empty string is an empty list. Parameters are
// only parsed here; Op.Validate checks them.
func ParseOps(s string) ([]Op, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if s[0] == '[' {
		return parseOpsJSON([]byte(s))
	}
	return parseOpsCompact(s)
}

// parseOpsJSON decodes a JSON array of operations, rejecting unknown fields so that a
// misspelt parameter is an error rather than silently ignored.
func parseOpsJSON(b []byte) ([]Op, error) {
	var ops []Op
	if err := decodeStrict(b, &ops); err != nil {
		return nil, Errorf(CodeInvalid, "ops: invalid JSON: %v", err)
	}
	return ops, nil
}

// UnmarshalOps decodes raw JSON that is either an operation array or a compact string.
func UnmarshalOps(raw json.RawMessage) ([]Op, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, Wrap(CodeInvalid, err, "ops: invalid JSON string")
		}
		return ParseOps(s)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return parseOpsJSON(raw)
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("trailing data after JSON value")

func parseOpsCompact(s string) ([]Op, error) {
	var ops []Op
	for i, part := range strings.Split(s, "|") {
		part = strings.TrimSpace(part)
		name, params, _ := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, Errorf(CodeInvalid, "ops: operation %d has no name", i+1)
		}
		op := Op{Name: name}
		if strings.TrimSpace(params) != "" {
			for kv := range strings.SplitSeq(params, ",") {
				k, v, ok := strings.Cut(kv, "=")
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				if !ok || k == "" || v == "" {
					return nil, Errorf(CodeInvalid, "ops: %s: parameter %q is not key=value", name, kv)
				}
				if err := op.setParam(k, v); err != nil {
					return nil, err
				}
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func (o *Op) setParam(k, v string) error {
	intVal := func(dst *int) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Errorf(CodeInvalid, "ops: %s: %s=%q is not an integer", o.Name, k, v)
		}
		*dst = n
		return nil
	}
	floatVal := func(dst *float64) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Errorf(CodeInvalid, "ops: %s: %s=%q is not a number", o.Name, k, v)
		}
		*dst = f
		return nil
	}
	switch k {
	case "w", "width":
		return intVal(&o.Width)
	case "h", "height":
		return intVal(&o.Height)
	case "x":
		return intVal(&o.X)
	case "y":
		return intVal(&o.Y)
	case "anchor":
		o.Anchor = v
	case "filter":
		o.Filter = v
	case "background":
		o.Background = v
	case "direction":
		o.Direction = v
	case "image":
		o.Image = v
	case "margin":
		return intVal(&o.Margin)
	case "opacity":
		return floatVal(&o.Opacity)
	case "scale":
		return floatVal(&o.Scale)
	case "angle":
		return floatVal(&o.Angle)
	case "sigma":
		return floatVal(&o.Sigma)
	case "percent":
		return floatVal(&o.Percent)
	case "gamma":
		return floatVal(&o.Gamma)
	default:
		return Errorf(CodeInvalid, "ops: %s: unknown parameter %q", o.Name, k)
	}
	return nil
}
