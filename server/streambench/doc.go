// Package streambench measures the session stream end to end: a real
// Portico admin server (registry, stream hub, HTTP) in the benchmark process,
// core/synthetic changing its sessions next to it, and real websocket clients
// in a separate process, so that the server's CPU time and memory are its own.
//
// Each change writes its time into the session's user name; clients read
// it back from the frames and report change-to-receipt latency. The
// benchmarks report:
//
//   - p50-ms, p99-ms, max-ms: change-to-receipt latency over sampled clients;
//   - cpu-s/M-updates: server CPU seconds per million updates delivered to
//     clients (one session update reaching one client counts once);
//   - KB-RSS/idle-sub: server resident memory per idle subscriber, measured
//     between one connected client and all of them;
//   - MB-RSS-growth (stalled variant): how much the server's resident memory
//     grew during churn while one client had stopped reading;
//   - delivery-p99-ms: from a frame's flush to its receipt, the part of the
//     latency that is not coalescing;
//   - server-cores, client-cores: CPU use of each process during churn. On a
//     small machine the clients compete with the server for the same cores.
//
// Run the matrix with `go tool task bench:stream`, or one case with
//
//	go test -run '^$' -bench 'Stream/clients=100/sessions=10000$' -benchtime 1x ./server/streambench
//
// PORTICO_STREAMBENCH_SECONDS sets the churn phase's length (default 10).
package streambench
