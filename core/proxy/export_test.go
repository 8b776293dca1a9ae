package proxy

// Serving reports whether p's event loops run, or p uses none: tests that
// count goroutines and descriptors take their baseline after that, since
// the loops are the proxy's own and outlive every session.
func Serving(p *Proxy) bool { return p.loops.running() }
