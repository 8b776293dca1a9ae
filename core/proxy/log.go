package proxy

import (
	"context"
	"log/slog"

	"github.com/portico-db/portico/core"
)

// LevelNotice is MaxScale's notice level, between Info and Warn: what an
// operator should hear about that is not a problem. A session's log_notice
// flag governs it.
const LevelNotice = slog.LevelInfo + 2

// sessionHandler filters one session's records by its log flags, which an
// operator can change at any time through the API (PATCH
// /v1/sessions/:id). Reading the flags is a single atomic load per record.
type sessionHandler struct {
	inner slog.Handler
	h     *core.Handle
}

var _ slog.Handler = (*sessionHandler)(nil)

// Enabled maps slog levels onto the session's flags. log_notice,
// log_warning and log_error can only silence a session: the process's own
// level still applies. log_info also turns a session's debug and info
// records on when the process logs less, which is what it is for: watching
// one session closely without flooding the log with every other.
func (s *sessionHandler) Enabled(ctx context.Context, level slog.Level) bool {
	f := s.h.LogFlags()
	switch {
	case level >= slog.LevelError:
		return f.Error && s.inner.Enabled(ctx, level)
	case level >= slog.LevelWarn:
		return f.Warning && s.inner.Enabled(ctx, level)
	case level >= LevelNotice:
		return f.Notice && s.inner.Enabled(ctx, level)
	}
	return f.Info
}

func (s *sessionHandler) Handle(ctx context.Context, r slog.Record) error {
	return s.inner.Handle(ctx, r)
}

func (s *sessionHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sessionHandler{inner: s.inner.WithAttrs(attrs), h: s.h}
}

func (s *sessionHandler) WithGroup(name string) slog.Handler {
	return &sessionHandler{inner: s.inner.WithGroup(name), h: s.h}
}
