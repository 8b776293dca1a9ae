package core_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

func TestCountHistory(t *testing.T) {
	tests := []struct {
		name string
		size int
		add  []int
		want []int
	}{
		{"empty", 3, nil, []int{}},
		{"partly filled", 3, []int{1, 2}, []int{1, 2}},
		{"exactly full", 3, []int{1, 2, 3}, []int{1, 2, 3}},
		{"wrapped: oldest dropped", 3, []int{1, 2, 3, 4, 5}, []int{3, 4, 5}},
		{"size below one keeps one", 0, []int{7, 8}, []int{8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := core.NewCountHistory(tt.size)
			for _, n := range tt.add {
				h.Add(n)
			}
			if got := h.Samples(); !slices.Equal(got, tt.want) {
				t.Fatalf("Samples = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCountHistoryRun(t *testing.T) {
	r := core.NewRegistry(nil)
	r.Open(core.Session{})
	r.Open(core.Session{})
	h := core.NewCountHistory(10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.Run(ctx, r, time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.Samples()) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	s := h.Samples()
	if len(s) < 3 || s[0] != 2 {
		t.Fatalf("samples %v, want at least three of 2", s)
	}
}
