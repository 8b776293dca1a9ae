package proxy

// PinThread restricts the calling thread to a CPU, as the loops do theirs.
var PinThread = pinThread

// AllowedCPUs returns the CPUs the process may run on.
var AllowedCPUs = allowedCPUs

// LoopSessions counts the sessions on p's event loops by the CPU each loop
// is pinned to (-1 for none).
func LoopSessions(p *Proxy) map[int]int {
	p.loops.mu.Lock()
	defer p.loops.mu.Unlock()
	n := map[int]int{}
	for _, l := range p.loops.loops {
		l.mu.Lock()
		for _, c := range l.conns {
			if c != nil && c.client {
				n[l.cpu]++
			}
		}
		l.mu.Unlock()
	}
	return n
}
