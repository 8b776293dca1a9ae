package proxy

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/portico-db/portico/core"
)

func TestSessionHandlerEnabled(t *testing.T) {
	all := core.LogFlags{Info: true, Notice: true, Warning: true, Error: true}
	tests := []struct {
		name string
		// process is the level the process logs at.
		process slog.Level
		flags   core.LogFlags
		want    map[slog.Level]bool
	}{
		{
			name: "MaxScale's defaults", process: slog.LevelDebug, flags: core.DefaultLogFlags,
			want: map[slog.Level]bool{slog.LevelDebug: false, slog.LevelInfo: false, LevelNotice: true, slog.LevelWarn: true, slog.LevelError: true},
		},
		{
			name: "everything", process: slog.LevelDebug, flags: all,
			want: map[slog.Level]bool{slog.LevelDebug: true, slog.LevelInfo: true, LevelNotice: true, slog.LevelWarn: true, slog.LevelError: true},
		},
		{
			name: "nothing", process: slog.LevelDebug, flags: core.LogFlags{},
			want: map[slog.Level]bool{slog.LevelDebug: false, slog.LevelInfo: false, LevelNotice: false, slog.LevelWarn: false, slog.LevelError: false},
		},
		{
			name: "log_info overrides a quieter process", process: slog.LevelError, flags: all,
			want: map[slog.Level]bool{slog.LevelDebug: true, slog.LevelInfo: true, LevelNotice: false, slog.LevelWarn: false, slog.LevelError: true},
		},
		{
			name: "only errors", process: slog.LevelInfo, flags: core.LogFlags{Error: true},
			want: map[slog.Level]bool{slog.LevelInfo: false, LevelNotice: false, slog.LevelWarn: false, slog.LevelError: true, slog.LevelError + 4: true},
		},
		{
			name: "levels between the named ones", process: slog.LevelDebug, flags: core.LogFlags{Notice: true},
			want: map[slog.Level]bool{slog.LevelInfo + 1: false, LevelNotice + 1: true, slog.LevelWarn + 1: false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := core.NewRegistry(nil)
			h := reg.Open(core.Session{})
			if err := reg.SetLogFlags(h.ID(), tt.flags); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			inner := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.process})
			log := slog.New(&sessionHandler{inner: inner, h: h}).With("session", h.ID()).WithGroup("g")
			for level, want := range tt.want {
				buf.Reset()
				log.Log(context.Background(), level, "hello", "k", "v")
				if got := buf.Len() > 0; got != want {
					t.Errorf("level %v: written %v, want %v", level, got, want)
				}
				if want && !bytes.Contains(buf.Bytes(), []byte("session=1 g.k=v")) {
					t.Errorf("level %v: attributes lost: %s", level, buf.Bytes())
				}
			}
		})
	}
}

// The flags are read per record, so a change through the registry (PATCH
// /v1/sessions/:id) takes effect on the next line.
func TestSessionHandlerFollowsChanges(t *testing.T) {
	reg := core.NewRegistry(nil)
	h := reg.Open(core.Session{})
	var buf bytes.Buffer
	log := slog.New(&sessionHandler{inner: slog.NewTextHandler(&buf, nil), h: h})
	steps := []struct {
		flags core.LogFlags
		want  bool
	}{
		{core.DefaultLogFlags, true},
		{core.LogFlags{Warning: true, Error: true}, false},
		{core.DefaultLogFlags, true},
	}
	for i, st := range steps {
		if err := reg.SetLogFlags(h.ID(), st.flags); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		log.Log(context.Background(), LevelNotice, "notice")
		if got := buf.Len() > 0; got != st.want {
			t.Errorf("step %d (%+v): written %v, want %v", i, st.flags, got, st.want)
		}
	}
}
