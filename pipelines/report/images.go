package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/statex/infrastructure/pipelines/images"
)

// ImagesText is a table of the images built (or skipped, or failed) and
// why, then the summary.
func ImagesText(w io.Writer, res images.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTAG\tSTATUS\tTIME\tSIZE\tWHY")
	for _, r := range res.Images {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\t%s\n", r.Name, r.Tag, r.Status, r.Duration.Seconds(), images.FormatSize(r.Size), r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s; total %.1fs\n", res.Summary(), res.Duration.Seconds())
	return err
}

// imageRow is one image in ImagesJSON.
type imageRow struct {
	Name     string           `json:"name"`
	Tag      string           `json:"tag"`
	Status   string           `json:"status"`
	Reason   string           `json:"reason"`
	ID       string           `json:"id,omitempty"`
	Log      string           `json:"log,omitempty"`
	Error    string           `json:"error,omitempty"`
	Seconds  float64          `json:"seconds"`
	Bytes    int64            `json:"bytes"`
	Packages []images.Package `json:"packages"`
}

// ImagesJSON is the build result with every image's package versions.
func ImagesJSON(w io.Writer, res images.Result) error {
	out := struct {
		Images  []imageRow `json:"images"`
		Seconds float64    `json:"seconds"`
	}{Seconds: res.Duration.Seconds()}
	for _, r := range res.Images {
		e := ""
		if r.Err != nil {
			e = r.Err.Error()
		}
		out.Images = append(out.Images, imageRow{r.Name, r.Tag, string(r.Status), r.Reason, r.ID, r.LogFile, e, r.Duration.Seconds(), r.Size, r.Packages})
	}
	return WriteJSON(w, out)
}
