// Command tsdbgen writes Prometheus TSDB blocks straight from compact value profiles.
//
// Backfilling weeks of history for thousands of workloads through OpenMetrics text and
// `promtool tsdb create-blocks-from openmetrics` is bound by parsing text. Here each series
// is a reference to a shared profile (one float64 per step) times a scale, so the input
// is small and the samples go straight into the tsdb library's BlockWriter.
//
// Usage: tsdbgen OUT_DIR < request
//
// The request on stdin is little-endian binary:
//
//	header:   8 bytes magic "KCTSDB1\n", int64 start_ms, int64 step_ms, uint32 n_samples,
//	          int64 block_ms, uint32 workers (0 = one per CPU)
//	profiles: uint32 count, then per profile n_samples float64 (NaN = no sample at that step)
//	series:   uint32 count, then per series:
//	          uint16 label count, per label uint16 len + name bytes, uint16 len + value bytes
//	          (any order; names must be unique), int32 profile (-1 = constant series),
//	          float64 scale, float64 constant, float64 round_to
//	then end of input.
//
// Sample k is at start_ms + k*step_ms. Its value is profile[k]*scale, or constant when
// profile is -1; when round_to > 0 it becomes RoundToEven(value/round_to)*round_to (so
// memory can be page-granular and compress like real data). A NaN value is a gap.
//
// One block per time slice [start_ms + i*block_ms, start_ms + (i+1)*block_ms), so blocks
// never overlap; up to `workers` slices are written at once. Each block's block folder
// appears in OUT_DIR under its ULID. Progress goes to stderr, one line per block; stdout
// gets one JSON document with every block and the totals. Malformed input exits 2,
// a failure while writing exits 1.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

const (
	magic = "KCTSDB1\n"
	// Samples buffered in one appender before Commit: keeps the appender's buffers
	// bounded; committed samples are compressed into chunks right away.
	commitEvery = 200_000
	// 2^27 steps is 255 years at 60 s: anything larger is a corrupt header, not a request.
	maxSamples = 1 << 27
)

type header struct {
	StartMs  int64
	StepMs   int64
	NSamples uint32
	BlockMs  int64
	Workers  uint32
}

type series struct {
	labels   labels.Labels
	profile  int32
	scale    float64
	constant float64
	roundTo  float64
}

type request struct {
	header
	profiles [][]float64
	series   []series
}

// inputError is malformed input, as opposed to a failure while writing blocks.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

type blockResult struct {
	ULID      string  `json:"ulid"`
	MinTimeMs int64   `json:"min_time_ms"`
	MaxTimeMs int64   `json:"max_time_ms"` // exclusive, as in the block's meta.json
	Series    int     `json:"series"`
	Samples   int64   `json:"samples"`
	Seconds   float64 `json:"seconds"`
}

type summary struct {
	Blocks        []blockResult `json:"blocks"`
	Samples       int64         `json:"samples"`
	Seconds       float64       `json:"seconds"`
	SamplesPerSec float64       `json:"samples_per_second"`
}

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: tsdbgen OUT_DIR < request (the protocol is described in main.go)")
		os.Exit(2)
	}
	outDir := os.Args[1]
	req, err := readRequest(bufio.NewReaderSize(os.Stdin, 1<<20))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tsdbgen: malformed input: %v\n", err)
		os.Exit(2)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		fail(err)
	}
	started := time.Now()
	blocks, err := writeBlocks(context.Background(), outDir, req)
	if err != nil {
		fail(err)
	}
	result := summary{Blocks: blocks, Seconds: time.Since(started).Seconds()}
	for _, b := range blocks {
		result.Samples += b.Samples
	}
	if result.Seconds > 0 {
		result.SamplesPerSec = float64(result.Samples) / result.Seconds
	}
	fmt.Fprintf(os.Stderr, "tsdbgen: %d blocks, %d samples in %.2f s (%.0f samples/s)\n",
		len(blocks), result.Samples, result.Seconds, result.SamplesPerSec)
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "tsdbgen: %v\n", err)
	os.Exit(1)
}

func readRequest(r *bufio.Reader) (*request, error) {
	got := make([]byte, len(magic))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != magic {
		return nil, badInput("does not start with the magic %q", magic)
	}
	req := &request{}
	if err := binary.Read(r, binary.LittleEndian, &req.header); err != nil {
		return nil, badInput("header: %v", err)
	}
	switch {
	case req.StepMs <= 0:
		return nil, badInput("step_ms must be positive, got %d", req.StepMs)
	case req.NSamples == 0 || req.NSamples > maxSamples:
		return nil, badInput("n_samples must be in 1..%d, got %d", maxSamples, req.NSamples)
	case req.BlockMs < req.StepMs:
		return nil, badInput("block_ms (%d) must be at least step_ms (%d)", req.BlockMs, req.StepMs)
	case req.StartMs > math.MaxInt64/4 || req.StartMs < math.MinInt64/4 ||
		req.StepMs > math.MaxInt64/4/int64(req.NSamples) || req.BlockMs > math.MaxInt64/4:
		return nil, badInput("start_ms, step_ms or block_ms out of range")
	}

	var count uint32
	if err := binary.Read(r, binary.LittleEndian, &count); err != nil {
		return nil, badInput("profile count: %v", err)
	}
	raw := make([]byte, 8*int(req.NSamples))
	for i := range int(count) {
		if _, err := io.ReadFull(r, raw); err != nil {
			return nil, badInput("profile %d of %d: %v", i, count, err)
		}
		values := make([]float64, req.NSamples)
		for k := range values {
			values[k] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*k:]))
		}
		req.profiles = append(req.profiles, values)
	}

	if err := binary.Read(r, binary.LittleEndian, &count); err != nil {
		return nil, badInput("series count: %v", err)
	}
	req.series = make([]series, 0, min(int(count), 1<<20))
	seen := map[uint64][]int{}
	for i := range int(count) {
		s, err := readSeries(r, len(req.profiles))
		if err != nil {
			return nil, badInput("series %d of %d: %v", i, count, err)
		}
		hash := s.labels.Hash()
		for _, j := range seen[hash] {
			if labels.Equal(req.series[j].labels, s.labels) {
				return nil, badInput("series %d %s repeats series %d", i, s.labels, j)
			}
		}
		seen[hash] = append(seen[hash], i)
		req.series = append(req.series, s)
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, badInput("unexpected bytes after the last series")
	}
	return req, nil
}

func readSeries(r *bufio.Reader, nProfiles int) (series, error) {
	var nLabels uint16
	if err := binary.Read(r, binary.LittleEndian, &nLabels); err != nil {
		return series{}, err
	}
	if nLabels == 0 {
		return series{}, errors.New("no labels")
	}
	ls := make([]labels.Label, nLabels)
	for i := range ls {
		name, err := readString(r)
		if err != nil {
			return series{}, fmt.Errorf("label %d name: %w", i, err)
		}
		value, err := readString(r)
		if err != nil {
			return series{}, fmt.Errorf("label %q value: %w", name, err)
		}
		if !validLabelName(name) {
			// Prometheus 2.x accepts only these names, and it reads the blocks.
			return series{}, fmt.Errorf("label name %q is not [a-zA-Z_][a-zA-Z0-9_]*", name)
		}
		if value == "" || !utf8.ValidString(value) {
			return series{}, fmt.Errorf("label %q: value must be non-empty UTF-8", name)
		}
		ls[i] = labels.Label{Name: name, Value: value}
	}
	s := series{labels: labels.New(ls...)} // sorts by name
	if dup, has := s.labels.HasDuplicateLabelNames(); has {
		return series{}, fmt.Errorf("label %q given twice", dup)
	}
	fields := struct {
		Profile  int32
		Scale    float64
		Constant float64
		RoundTo  float64
	}{}
	if err := binary.Read(r, binary.LittleEndian, &fields); err != nil {
		return series{}, fmt.Errorf("%s: %w", s.labels, err)
	}
	s.profile, s.scale, s.constant, s.roundTo = fields.Profile, fields.Scale, fields.Constant, fields.RoundTo
	switch {
	case s.profile < -1 || int(s.profile) >= nProfiles:
		return series{}, fmt.Errorf("%s: profile %d, but there are %d profiles", s.labels, s.profile, nProfiles)
	case !(s.roundTo >= 0) || math.IsInf(s.roundTo, 0):
		return series{}, fmt.Errorf("%s: round_to must be finite and >= 0, got %v", s.labels, s.roundTo)
	}
	return s, nil
}

func readString(r *bufio.Reader) (string, error) {
	var n uint16
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func validLabelName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// value is series s at step k; NaN means no sample.
func (req *request) value(s *series, k int) float64 {
	v := s.constant
	if s.profile >= 0 {
		v = req.profiles[s.profile][k] * s.scale
	}
	if s.roundTo > 0 {
		v = math.RoundToEven(v/s.roundTo) * s.roundTo
	}
	return v
}

// slice i holds steps [first(i), first(i+1)): those at or after start + i*block.
func (req *request) first(i int) int {
	offset := int64(i) * req.BlockMs
	return int(min((offset+req.StepMs-1)/req.StepMs, int64(req.NSamples)))
}

func (req *request) slices() int {
	last := int64(req.NSamples-1) * req.StepMs
	return int(last/req.BlockMs) + 1
}

func writeBlocks(ctx context.Context, outDir string, req *request) ([]blockResult, error) {
	workers := int(req.Workers)
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	n := req.slices()
	workers = min(workers, n)
	results := make([]*blockResult, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = writeSlice(ctx, outDir, req, i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	blocks := make([]blockResult, 0, n)
	for i := range n {
		if errs[i] != nil {
			return nil, fmt.Errorf("slice %d: %w", i, errs[i])
		}
		if results[i] != nil {
			blocks = append(blocks, *results[i])
		}
	}
	return blocks, nil
}

// writeSlice writes one block, or returns nil when the slice has no sample at all.
func writeSlice(ctx context.Context, outDir string, req *request, i int) (result *blockResult, err error) {
	started := time.Now()
	lo, hi := req.first(i), req.first(i+1)
	// The head refuses samples older than half its chunk range before the newest one;
	// twice the block length lets every series start again at the slice's beginning
	// (promtool's backfill does the same).
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), outDir, 2*req.BlockMs)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, w.Close()) }()
	app := w.Appender(ctx)
	var samples, pending int64
	var nSeries int
	for si := range req.series {
		s := &req.series[si]
		var ref storage.SeriesRef
		appended := false
		for k := lo; k < hi; k++ {
			v := req.value(s, k)
			if math.IsNaN(v) {
				continue
			}
			t := req.StartMs + int64(k)*req.StepMs
			if ref, err = app.Append(ref, s.labels, t, v); err != nil {
				_ = app.Rollback()
				return nil, fmt.Errorf("%s at %d: %w", s.labels, t, err)
			}
			appended = true
			pending++
			if pending == commitEvery {
				if err = app.Commit(); err != nil {
					return nil, err
				}
				samples += pending
				pending = 0
				app = w.Appender(ctx)
			}
		}
		if appended {
			nSeries++
		}
	}
	if err = app.Commit(); err != nil {
		return nil, err
	}
	samples += pending
	sliceStart := req.StartMs + int64(i)*req.BlockMs
	if samples == 0 {
		fmt.Fprintf(os.Stderr, "slice %d from %s: no samples, no block\n", i, time.UnixMilli(sliceStart).UTC().Format(time.RFC3339))
		return nil, nil
	}
	id, err := w.Flush(ctx)
	if err != nil {
		return nil, err
	}
	meta, err := readMeta(outDir, id.String())
	if err != nil {
		return nil, err
	}
	result = &blockResult{
		ULID: id.String(), MinTimeMs: meta.MinTime, MaxTimeMs: meta.MaxTime,
		Series: nSeries, Samples: samples, Seconds: time.Since(started).Seconds(),
	}
	fmt.Fprintf(os.Stderr, "block %s %s: %d series, %d samples, %.2f s\n",
		result.ULID, time.UnixMilli(sliceStart).UTC().Format(time.RFC3339), nSeries, samples, result.Seconds)
	return result, nil
}

func readMeta(outDir, id string) (*tsdb.BlockMeta, error) {
	raw, err := os.ReadFile(outDir + "/" + id + "/meta.json")
	if err != nil {
		return nil, err
	}
	var meta tsdb.BlockMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("block %s meta.json: %w", id, err)
	}
	return &meta, nil
}
