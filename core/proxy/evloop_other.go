//go:build !linux

package proxy

import "net"

// Elsewhere than Linux every session is relayed by two goroutines; these
// stand in for the event loops of evloop_linux.go.

type loopGroup struct{}

func newLoopGroup(int) *loopGroup { return nil }
func (*loopGroup) start() error   { return nil }
func (*loopGroup) stop()          {}
func (*loopGroup) pick(int) *loop { return nil }
func (*loopGroup) running() bool  { return true }

type loop struct{}

// DefaultLoops is zero: no loop runs here.
func DefaultLoops() int { return 0 }

// LoopThreads is zero: no loop runs here.
func LoopThreads(int) int { return 0 }

func incomingCPU(net.Conn) int { return -1 }

type loopFDs struct{}

func (s *session) relayOnLoop(*loop, *clientSide, *backendSide, <-chan error) (bool, error) {
	return false, nil
}

func (s *session) shutdownLoopLocked() {}
