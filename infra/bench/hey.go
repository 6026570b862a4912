package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// HeyResult is what `hey` (github.com/rakyll/hey) reports for a run.
type HeyResult struct {
	Total         time.Duration
	RequestsPerS  float64
	Percentiles   map[int]time.Duration // 10, 25, 50, 75, 90, 95, 99
	StatusCodes   map[int]int           // responses per HTTP status
	Errors        int                   // requests that got no response
	ErrorExamples []string
}

// Responses is the number of requests answered, whatever the status.
func (r *HeyResult) Responses() int {
	n := 0
	for _, c := range r.StatusCodes {
		n += c
	}
	return n
}

// ParseHey reads hey's default (summary) output.
func ParseHey(r io.Reader) (*HeyResult, error) {
	res := &HeyResult{Percentiles: map[int]time.Duration{}, StatusCodes: map[int]int{}}
	section := ""
	sc := bufio.NewScanner(r)
	secs := func(s string) (time.Duration, error) {
		f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), " secs"), 64)
		return time.Duration(f * float64(time.Second)), err
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, "["):
			section = strings.TrimSuffix(line, ":")
			continue
		}
		switch section {
		case "Summary":
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			var err error
			switch k {
			case "Total":
				res.Total, err = secs(v)
			case "Requests/sec":
				res.RequestsPerS, err = strconv.ParseFloat(strings.TrimSpace(v), 64)
			}
			if err != nil {
				return nil, fmt.Errorf("hey summary %q: %w", line, err)
			}
		case "Latency distribution":
			// "50% in 0.0050 secs" (v0.1.5 prints "50%% in"); hey omits
			// percentiles it has no data for.
			pct, v, ok := strings.Cut(line, " in ")
			if !ok {
				continue
			}
			p, err := strconv.Atoi(strings.TrimRight(pct, "%"))
			if err != nil {
				return nil, fmt.Errorf("hey latency %q: %w", line, err)
			}
			if res.Percentiles[p], err = secs(v); err != nil {
				return nil, fmt.Errorf("hey latency %q: %w", line, err)
			}
		case "Status code distribution", "Error distribution":
			// "[200]	52063 responses" or "[12]	Get ...: dial tcp ...".
			code, rest, ok := strings.Cut(strings.TrimPrefix(line, "["), "]")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(code)
			if err != nil {
				return nil, fmt.Errorf("hey %s %q: %w", section, line, err)
			}
			if section == "Error distribution" {
				res.Errors += n
				res.ErrorExamples = append(res.ErrorExamples, strings.TrimSpace(rest))
				continue
			}
			f := strings.Fields(rest)
			if len(f) == 0 {
				return nil, fmt.Errorf("hey status %q: no count", line)
			}
			if res.StatusCodes[n], err = strconv.Atoi(f[0]); err != nil {
				return nil, fmt.Errorf("hey status %q: %w", line, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if res.RequestsPerS == 0 && res.Responses() == 0 {
		return nil, fmt.Errorf("no results in hey's output")
	}
	return res, nil
}
