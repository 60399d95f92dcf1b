package processing

import "github.com/pixmill/pixmill/internal/job"

// CanEncode reports whether outputs can be written in format f.
func CanEncode(f job.Format) bool {
	_, ok := encoders[f]
	return ok || f == job.FormatWebP
}
