//go:build !linux

package proxy

// Elsewhere than Linux every session is relayed by two goroutines; these
// stand in for the event loops of evloop_linux.go.

type loopGroup struct{}

func newLoopGroup(int) *loopGroup { return nil }
func (*loopGroup) start() error   { return nil }
func (*loopGroup) stop()          {}
func (*loopGroup) pick() *loop    { return nil }
func (*loopGroup) running() bool  { return true }

type loop struct{}

type loopFDs struct{}

func (s *session) relayOnLoop(*loop, *clientSide, *backendSide, <-chan error) (bool, error) {
	return false, nil
}

func (s *session) shutdownLoopLocked() {}
