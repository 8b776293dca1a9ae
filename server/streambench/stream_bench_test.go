package streambench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/synthetic"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/server/users"
)

// The client process is this test binary run again with envRole set.
const (
	envRole    = "PORTICO_STREAMBENCH_CLIENT"
	envURL     = "PORTICO_STREAMBENCH_URL"
	envSeconds = "PORTICO_STREAMBENCH_SECONDS"
	changeRate = 1000 // changes per second
	benchUser  = "admin"
	benchPass  = "bench"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRole) != "" {
		os.Exit(clientMain())
	}
	os.Exit(m.Run())
}

// benchUsers is one admin account without password hashing, so that a
// thousand logins cost the server nothing worth measuring.
type benchUsers struct{}

func (benchUsers) Authenticate(u, p string) (users.Role, bool) {
	return users.RoleAdmin, u == benchUser && p == benchPass
}

func (benchUsers) Role(u string) (users.Role, bool) { return users.RoleAdmin, u == benchUser }

func BenchmarkStream(b *testing.B) {
	for _, clients := range []int{1, 100, 1000} {
		for _, sessions := range []int{1_000, 10_000, 100_000} {
			b.Run(fmt.Sprintf("clients=%d/sessions=%d", clients, sessions), func(b *testing.B) {
				runStream(b, scenario{clients: clients, sessions: sessions})
			})
		}
	}
	b.Run("stalled/clients=100/sessions=10000", func(b *testing.B) {
		runStream(b, scenario{clients: 100, sessions: 10_000, stalled: true})
	})
}

type scenario struct {
	clients, sessions int
	// stalled adds a client that stops reading after its snapshot.
	stalled bool
}

func runStream(b *testing.B, sc scenario) {
	seconds := 10
	if v, err := strconv.Atoi(os.Getenv(envSeconds)); err == nil && v > 0 {
		seconds = v
	}
	for b.Loop() {
		m := measure(b, sc, time.Duration(seconds)*time.Second)
		b.ReportMetric(m.p50, "p50-ms")
		b.ReportMetric(m.p99, "p99-ms")
		b.ReportMetric(m.max, "max-ms")
		b.ReportMetric(m.deliveryP99, "delivery-p99-ms")
		b.ReportMetric(m.cpuPerM, "cpu-s/M-updates")
		b.ReportMetric(m.updates, "updates")
		b.ReportMetric(m.serverCores, "server-cores")
		b.ReportMetric(m.clientCores, "client-cores")
		if sc.clients > 1 {
			b.ReportMetric(m.rssPerSub, "KB-RSS/idle-sub")
		}
		if sc.stalled {
			b.ReportMetric(m.rssGrowth, "MB-RSS-growth")
		}
	}
}

type result struct {
	p50, p99, max, deliveryP99, cpuPerM, updates, rssPerSub, rssGrowth float64
	serverCores, clientCores                                           float64
}

func measure(b *testing.B, sc scenario, churn time.Duration) result {
	reg := core.NewRegistry(nil)
	topo := synthetic.Topology()
	// Each change writes its time into the session's user name, for the
	// clients to read back.
	src := synthetic.New(reg, synthetic.Config{Sessions: sc.sessions, Rate: changeRate, Topology: &topo,
		Change: func(h *core.Handle) {
			ts := "t" + strconv.FormatInt(time.Now().UnixNano(), 10)
			h.Update(func(s *core.Session) { s.User = ts })
		}})
	api := server.New(server.Config{
		Sessions: reg,
		Topology: &topo,
		Users:    benchUsers{},
		Logger:   slog.New(slog.DiscardHandler),
	})
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if sc.stalled {
		// Small kernel buffers, so that the stalled client blocks its
		// writer within seconds, not after megabytes.
		ln = smallBuffers{ln}
	}
	hs := &http.Server{Handler: api.Handler()}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		api.CloseStreams(ctx)
		_ = hs.Close()
	}()

	p := startClients(b, "http://"+ln.Addr().String())
	defer p.close()
	sampled := min(sc.clients, 10)
	p.do("add 1 1")
	// Shared snapshot encodings are dropped a second after their last use.
	time.Sleep(1500 * time.Millisecond)
	rss1 := rssAfterGC()
	var r result
	if sc.clients > 1 {
		p.do(fmt.Sprintf("add %d %d", sc.clients-1, sampled-1))
		time.Sleep(1500 * time.Millisecond)
		r.rssPerSub = float64(rssAfterGC()-rss1) / 1024 / float64(sc.clients-1)
	}
	if sc.stalled {
		p.do("stall")
	}
	rssBefore := rssAfterGC()

	if sc.stalled {
		// Long enough for the stalled connection's writes to block and
		// time out.
		churn = max(churn, 20*time.Second)
	}
	p.do("count")
	cpu0 := cpuTime()
	ctx, stop := context.WithTimeout(context.Background(), churn)
	defer stop()
	src.Run(ctx)
	time.Sleep(2 * 250 * time.Millisecond) // the last frames
	cpu := cpuTime() - cpu0
	r.serverCores = cpu.Seconds() / (churn + 500*time.Millisecond).Seconds()
	st := p.report()
	if sc.stalled {
		r.rssGrowth = float64(rssAfterGC()-rssBefore) / (1 << 20)
	}
	if len(st.Errors) > 0 {
		b.Errorf("clients: %v", st.Errors)
	}
	r.p50, r.p99, r.max, r.deliveryP99 = st.P50, st.P99, st.Max, st.DeliveryP99
	r.clientCores = st.Cores
	r.updates = float64(st.Updates)
	if st.Updates > 0 {
		r.cpuPerM = cpu.Seconds() / (float64(st.Updates) / 1e6)
	}
	return r
}

type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(64 << 10)
	}
	return c, err
}

func rssAfterGC() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clientProc drives the client process: one command per line on its stdin,
// one answer line per command on its stdout.
type clientProc struct {
	b   *testing.B
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startClients(b *testing.B, url string) *clientProc {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envRole+"=1", envURL+"="+url)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	return &clientProc{b: b, cmd: cmd, in: in, out: sc}
}

func (p *clientProc) do(command string) string {
	p.b.Helper()
	if _, err := io.WriteString(p.in, command+"\n"); err != nil {
		p.b.Fatal(err)
	}
	if !p.out.Scan() {
		p.b.Fatalf("client process: no answer to %q: %v", command, p.out.Err())
	}
	answer := p.out.Text()
	if strings.HasPrefix(answer, "error") {
		p.b.Fatalf("client process: %s: %s", command, answer)
	}
	return answer
}

func (p *clientProc) report() clientStats {
	var st clientStats
	if err := json.Unmarshal([]byte(p.do("report")), &st); err != nil {
		p.b.Fatal(err)
	}
	return st
}

func (p *clientProc) close() {
	p.in.Close()
	_ = p.cmd.Wait()
}

// clientStats is the client process's report.
type clientStats struct {
	P50, P99, Max float64 // ms
	// DeliveryP99 is from a frame's time (its flush) to its receipt.
	DeliveryP99 float64
	Samples     int
	// Cores is the client process's CPU use while counting, in cores.
	Cores   float64
	Updates int64 // updated sessions received, over all clients
	Errors  []string
}

// clientMain is the client process.
func clientMain() int {
	c := &clients{url: "ws" + strings.TrimPrefix(os.Getenv(envURL), "http") + "/v1/sessions/stream"}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		var answer string
		switch f[0] {
		case "add":
			n, _ := strconv.Atoi(f[1])
			sampled, _ := strconv.Atoi(f[2])
			answer = c.add(n, sampled, false)
		case "stall":
			answer = c.add(1, 0, true)
		case "count":
			c.counting.Store(true)
			c.cpu0, c.t0 = cpuTime(), time.Now()
			answer = "ok"
		case "report":
			b, _ := json.Marshal(c.stats())
			answer = string(b)
		default:
			answer = "error: unknown command " + f[0]
		}
		fmt.Println(answer)
	}
	return 0
}

type clients struct {
	url      string
	cpu0     time.Duration // at "count"
	t0       time.Time
	counting atomic.Bool
	updates  atomic.Int64

	mu       sync.Mutex
	latency  []time.Duration
	delivery []time.Duration // from the frame's time to its receipt
	errs     []string
}

// add connects n clients, sampled of which decode frames for latency, and
// returns once each has its snapshot.
func (c *clients) add(n, sampled int, stall bool) string {
	ready := make(chan error, n)
	// Clients connecting at once share the server's snapshot encoding, but
	// each receives its own copy: bound how many transfers run at once, so
	// that a 100k-session snapshot to a thousand clients does not starve
	// some reader past the server's write timeout.
	sem := make(chan struct{}, 32)
	for i := range n {
		sem <- struct{}{}
		go func() {
			c.run(i < sampled, stall, ready, sem)
		}()
	}
	for range n {
		if err := <-ready; err != nil {
			return "error: " + err.Error()
		}
	}
	return "ready"
}

var (
	updateMark   = []byte(`"type":"sessions","attributes"`)
	snapshotHead = []byte(`{"type":"snapshot"`)
	changesHead  = []byte(`{"type":"changes"`)
	lastChunk    = []byte(`"more":false}`)
)

func (c *clients) run(sampled, stall bool, ready chan<- error, sem <-chan struct{}) {
	ctx := context.Background()
	header := http.Header{}
	r := &http.Request{Header: header}
	r.SetBasicAuth(benchUser, benchPass)
	opts := &websocket.DialOptions{HTTPHeader: header}
	if stall {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := new(net.Dialer).DialContext(ctx, network, addr)
				if err == nil {
					err = c.(*net.TCPConn).SetReadBuffer(64 << 10)
				}
				return c, err
			},
		}}
	}
	conn, _, err := websocket.Dial(ctx, c.url, opts)
	if err != nil {
		<-sem
		ready <- err
		return
	}
	conn.SetReadLimit(-1)
	var buf bytes.Buffer
	signalled := false
	for {
		_, rd, err := conn.Reader(ctx)
		if err != nil {
			if !signalled {
				<-sem
				ready <- err
			} else {
				c.fail(err)
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			c.fail(err)
			return
		}
		now := time.Now()
		msg := buf.Bytes()
		switch {
		case bytes.HasPrefix(msg, snapshotHead):
			if !signalled && bytes.HasSuffix(msg, lastChunk) {
				signalled = true
				<-sem
				ready <- nil
				if stall {
					select {} // never read again
				}
			}
		case bytes.HasPrefix(msg, changesHead) && c.counting.Load():
			c.updates.Add(int64(bytes.Count(msg, updateMark)))
			if sampled {
				c.sample(msg, now)
			}
		}
	}
}

func (c *clients) sample(msg []byte, now time.Time) {
	var f struct {
		Time    time.Time `json:"time"`
		Updated []struct {
			Attributes struct {
				User string `json:"user"`
			} `json:"attributes"`
		} `json:"updated"`
	}
	if err := json.Unmarshal(msg, &f); err != nil {
		c.fail(err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delivery = append(c.delivery, now.Sub(f.Time))
	for _, u := range f.Updated {
		if ns, err := strconv.ParseInt(strings.TrimPrefix(u.Attributes.User, "t"), 10, 64); err == nil {
			c.latency = append(c.latency, now.Sub(time.Unix(0, ns)))
		}
	}
}

func (c *clients) fail(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 5 {
		c.errs = append(c.errs, err.Error())
	}
}

func (c *clients) stats() clientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := clientStats{Samples: len(c.latency), Updates: c.updates.Load(), Errors: c.errs}
	if !c.t0.IsZero() {
		st.Cores = (cpuTime() - c.cpu0).Seconds() / time.Since(c.t0).Seconds()
	}
	if len(c.latency) == 0 {
		return st
	}
	slices.Sort(c.latency)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	st.P50 = ms(c.latency[len(c.latency)/2])
	st.P99 = ms(c.latency[len(c.latency)*99/100])
	st.Max = ms(c.latency[len(c.latency)-1])
	if len(c.delivery) > 0 {
		slices.Sort(c.delivery)
		st.DeliveryP99 = ms(c.delivery[len(c.delivery)*99/100])
	}
	return st
}
