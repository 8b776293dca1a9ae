// Command benchproxy measures Portico's proxy against HAProxy in TCP mode
// and against no proxy at all, on one machine in one run, for `go tool task
// bench:proxy`.
//
// The machines it runs on are shared and noisy, so absolute figures drift;
// what holds is the ratio between targets measured side by side. Every
// round therefore runs each target once, in an order that rotates from
// round to round, and the report gives medians and their ratios:
//
//   - throughput: sysbench oltp_point_select and oltp_read_only, QPS and the
//     proxy's CPU time per query (from /proc/PID/stat);
//   - latency: one client's COM_PING round trip, one ping at a time;
//   - bulk transfer: the proxy's CPU time to relay one large result;
//   - memory: the proxy's resident memory per idle session, with many
//     sessions open.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core/mysqlwire"
)

type options struct {
	db, user, password string
	portico, haproxy   string
	sysbench           string
	work               string
	rounds             int
	duration           time.Duration
	threads            int
	workloads          []string
	tables, tableSize  int
	bulkMB             int
	idle               int
	sections           map[string]bool
	compareRelays      bool
	compareThreads     int
}

func main() {
	var o options
	var workloads, sections string
	flag.StringVar(&o.db, "db", "127.0.0.1:13308", "the MariaDB to measure against, `host:port`")
	flag.StringVar(&o.user, "user", "maxuser", "MariaDB user (also the Portico service's user)")
	flag.StringVar(&o.password, "password", "maxpwd", "its password")
	flag.StringVar(&o.portico, "portico", "bin/portico", "the Portico binary")
	flag.StringVar(&o.haproxy, "haproxy", "haproxy", "the HAProxy binary")
	flag.StringVar(&o.sysbench, "sysbench", "sysbench", "the sysbench binary")
	flag.StringVar(&o.work, "work", ".tmp/benchproxy", "a directory for configurations and logs")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of every target")
	flag.DurationVar(&o.duration, "time", 10*time.Second, "length of each sysbench run")
	flag.IntVar(&o.threads, "threads", 8, "sysbench threads")
	flag.StringVar(&workloads, "workloads", "oltp_point_select,oltp_read_only", "sysbench workloads")
	flag.IntVar(&o.tables, "tables", 4, "sysbench tables")
	flag.IntVar(&o.tableSize, "table-size", 100000, "rows per sysbench table")
	flag.IntVar(&o.bulkMB, "bulk-mb", 500, "size of the bulk result, in MB")
	flag.IntVar(&o.idle, "idle", 10000, "idle sessions for the memory measurement")
	flag.StringVar(&sections, "sections", "throughput,latency,bulk,memory", "what to measure")
	flag.IntVar(&o.compareThreads, "compare-threads", 0, "also measure Portico with `N` event loops (threads=N) instead of its default")
	flag.BoolVar(&o.compareRelays, "compare-relays", false, "also measure Portico relaying on goroutines (PORTICO_RELAY=goroutines) instead of event loops")
	flag.Parse()
	o.workloads = strings.Split(workloads, ",")
	o.sections = map[string]bool{}
	for _, s := range strings.Split(sections, ",") {
		o.sections[s] = true
	}
	if err := run(context.Background(), o); err != nil {
		log.Fatalf("benchproxy: %v", err)
	}
}

// target is one way to reach the database.
type target struct {
	name string
	addr string
	pid  int // the proxy's process; 0 for direct
}

func run(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	// n sessions through a proxy are 2n of its descriptors. Containers
	// often cap the hard limit (20,000 here, with no CAP_SYS_RESOURCE to
	// raise it), so the sessions measured are as many as it allows.
	limit := raiseFileLimit(1 << 16)
	if most := int(limit-200) / 2; o.idle > most {
		fmt.Printf("# the open-files limit is %d: measuring memory at %d idle sessions, not %d\n", limit, most, o.idle)
		o.idle = most
	}
	host, port, err := net.SplitHostPort(o.db)
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	pt, stopPortico, err := startPortico(ctx, o, host, port, "portico", "", nil)
	if err != nil {
		return err
	}
	defer stopPortico()
	ht, stopHAProxy, err := startHAProxy(ctx, o, host, port)
	if err != nil {
		return err
	}
	defer stopHAProxy()
	targets := []target{{name: "direct", addr: o.db}, pt, ht}
	if o.compareRelays {
		gt, stop, err := startPortico(ctx, o, host, port, "portico-goroutines", "", []string{"PORTICO_RELAY=goroutines"})
		if err != nil {
			return err
		}
		defer stop()
		targets = append(targets, gt)
	}
	if n := o.compareThreads; n > 0 {
		name := fmt.Sprintf("portico-threads%d", n)
		tt, stop, err := startPortico(ctx, o, host, port, name, fmt.Sprintf("threads=%d\n", n), nil)
		if err != nil {
			return err
		}
		defer stop()
		targets = append(targets, tt)
	}
	fmt.Printf("# benchproxy %s\n# Portico: default GOMAXPROCS and threads=auto (%d CPUs); HAProxy: default nbthread\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())
	if o.sections["throughput"] {
		if err := throughput(ctx, o, targets); err != nil {
			return err
		}
	}
	if o.sections["latency"] {
		if err := latency(ctx, o, targets); err != nil {
			return err
		}
	}
	if o.sections["bulk"] {
		if err := bulk(ctx, o, targets); err != nil {
			return err
		}
	}
	if o.sections["memory"] {
		if err := memory(ctx, o, targets[1:]); err != nil {
			return err
		}
	}
	return nil
}

// throughput runs sysbench against every target, rounds times, and prints
// medians of QPS and of the proxy's CPU per query.
func throughput(ctx context.Context, o options, targets []target) error {
	if err := prepareSysbench(ctx, o); err != nil {
		return err
	}
	for _, wl := range o.workloads {
		qps := map[string][]float64{}
		cpu := map[string][]float64{}
		machine := map[string][]float64{}
		idle := map[string][]float64{}
		for r := range o.rounds {
			for i := range targets {
				t := targets[(i+r)%len(targets)]
				before := cpuTicks(t.pid)
				busy0, idle0 := machineTicks()
				q, n, err := sysbench(ctx, o, wl, t.addr)
				if err != nil {
					return fmt.Errorf("%s through %s: %w", wl, t.name, err)
				}
				busy1, idle1 := machineTicks()
				qps[t.name] = append(qps[t.name], q)
				if t.pid != 0 {
					cpu[t.name] = append(cpu[t.name], ticksToSeconds(cpuTicks(t.pid)-before)/float64(n)*1e6)
				}
				machine[t.name] = append(machine[t.name], ticksToSeconds(busy1-busy0)/float64(n)*1e6)
				idlePct := 100 * float64(idle1-idle0) / float64(max(1, busy1-busy0+idle1-idle0))
				idle[t.name] = append(idle[t.name], idlePct)
				fmt.Printf("  %-18s round %d %-8s %9.0f qps   %4.1f%% idle\n", wl, r+1, t.name, q, idlePct)
			}
		}
		fmt.Printf("\n%s, %d threads, %d rounds of %s (medians; machine: every process's CPU per query):\n", wl, o.threads, o.rounds, o.duration)
		for _, t := range targets {
			line := fmt.Sprintf("  %-8s %9.0f qps   %6.1f µs machine CPU/query   %4.1f%% idle", t.name,
				median(qps[t.name]), median(machine[t.name]), median(idle[t.name]))
			if t.pid != 0 {
				line += fmt.Sprintf("   %6.2f µs proxy CPU/query", median(cpu[t.name]))
			}
			fmt.Println(line)
		}
		fmt.Printf("  Portico/HAProxy: QPS %.3f×, CPU per query %.3f×\n\n",
			median(qps["portico"])/median(qps["haproxy"]), median(cpu["portico"])/median(cpu["haproxy"]))
	}
	return nil
}

func prepareSysbench(ctx context.Context, o options) error {
	db, err := open(o, o.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS sbtest"); err != nil {
		return fmt.Errorf("create sbtest: %w", err)
	}
	var n int
	err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'sbtest'").Scan(&n)
	if err != nil {
		return err
	}
	if n >= o.tables {
		return nil
	}
	fmt.Printf("# preparing sbtest: %d tables of %d rows\n", o.tables, o.tableSize)
	out, err := exec.CommandContext(ctx, o.sysbench, append([]string{"oltp_read_only"}, sysbenchArgs(o, o.db, "prepare")...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sysbench prepare: %w\n%s", err, out)
	}
	return nil
}

func sysbenchArgs(o options, addr, command string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{
		"--db-driver=mysql", "--mysql-host=" + host, "--mysql-port=" + port,
		"--mysql-user=" + o.user, "--mysql-password=" + o.password, "--mysql-db=sbtest",
		"--tables=" + strconv.Itoa(o.tables), "--table-size=" + strconv.Itoa(o.tableSize),
		"--threads=" + strconv.Itoa(o.threads), "--time=" + strconv.Itoa(int(o.duration.Seconds())),
		"--report-interval=0", command,
	}
}

var queriesLine = regexp.MustCompile(`queries:\s+(\d+)\s+\((\d+(?:\.\d+)?) per sec\.\)`)

// sysbench runs one workload and returns its QPS and query count.
func sysbench(ctx context.Context, o options, workload, addr string) (float64, int64, error) {
	out, err := exec.CommandContext(ctx, o.sysbench, append([]string{workload}, sysbenchArgs(o, addr, "run")...)...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, out)
	}
	m := queriesLine.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("no queries line in sysbench output:\n%s", out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	q, _ := strconv.ParseFloat(string(m[2]), 64)
	return q, n, nil
}

// bulk fetches one large result through every target and prints the
// proxy's CPU time for it.
func bulk(ctx context.Context, o options, targets []target) error {
	rows := o.bulkMB * 1000
	query := "SELECT REPEAT('x', 1000) FROM seq_1_to_" + strconv.Itoa(rows)
	cpu := map[string][]float64{}
	wall := map[string][]float64{}
	rounds := max(3, o.rounds/2)
	for r := range rounds {
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			before := cpuTicks(t.pid)
			start := time.Now()
			n, err := fetchAll(ctx, t.addr, o, query)
			if err != nil {
				return fmt.Errorf("bulk through %s: %w", t.name, err)
			}
			wall[t.name] = append(wall[t.name], time.Since(start).Seconds())
			if t.pid != 0 {
				cpu[t.name] = append(cpu[t.name], ticksToSeconds(cpuTicks(t.pid)-before))
			}
			fmt.Printf("  bulk round %d %-8s %d MB in %.2f s\n", r+1, t.name, n>>20, time.Since(start).Seconds())
		}
	}
	fmt.Printf("\nbulk: %d rows of 1000 bytes (~%d MB), %d rounds (medians):\n", rows, o.bulkMB, rounds)
	for _, t := range targets {
		line := fmt.Sprintf("  %-8s %6.2f s wall", t.name, median(wall[t.name]))
		if t.pid != 0 {
			line += fmt.Sprintf("   %6.2f s proxy CPU", median(cpu[t.name]))
		}
		fmt.Println(line)
	}
	fmt.Printf("  Portico/HAProxy CPU: %.3f×\n\n", median(cpu["portico"])/median(cpu["haproxy"]))
	return nil
}

func fetchAll(ctx context.Context, addr string, o options, query string) (int64, error) {
	db, err := open(o, addr)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return 0, err
		}
		total += int64(len(b))
	}
	return total, rows.Err()
}

// memory opens o.idle idle sessions through each proxy and prints its
// resident memory per session.
func memory(ctx context.Context, o options, proxies []target) error {
	db, err := open(o, o.db)
	if err != nil {
		return err
	}
	var maxConn int
	if err := db.QueryRowContext(ctx, "SELECT @@max_connections").Scan(&maxConn); err != nil {
		db.Close()
		return err
	}
	db.Close()
	if maxConn < o.idle+50 {
		return fmt.Errorf("the database allows %d connections; %d idle sessions need more (start it with --max-connections)", maxConn, o.idle)
	}
	fmt.Printf("idle sessions: %d through each proxy\n", o.idle)
	per := map[string]float64{}
	for _, t := range proxies {
		base := rssKB(t.pid)
		conns, err := openIdle(ctx, t.addr, o)
		if err != nil {
			closeAll(conns)
			return fmt.Errorf("idle sessions through %s: %w", t.name, err)
		}
		// Let the sessions settle (the proxy's GC, stacks shrinking)
		// as they would on a real idle server.
		time.Sleep(5 * time.Second)
		full := rssKB(t.pid)
		per[t.name] = float64(full-base) / float64(len(conns))
		fmt.Printf("  %-8s RSS %d kB before, %d kB with %d sessions: %.1f kB per session\n",
			t.name, base, full, len(conns), per[t.name])
		closeAll(conns)
		// The proxy and the database need a moment to let go.
		time.Sleep(3 * time.Second)
	}
	fmt.Printf("  Portico/HAProxy per session: %.2f×\n\n", per["portico"]/per["haproxy"])
	return nil
}

// openIdle logs n connections in through addr and leaves them idle.
func openIdle(ctx context.Context, addr string, o options) ([]net.Conn, error) {
	conns := make([]net.Conn, o.idle)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err == nil {
					err = mysqlwire.ClientHandshake(ctx, c, o.user, o.password)
					if err != nil {
						c.Close()
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp(firstErr, fmt.Errorf("session %d: %w", i, err))
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(conns, func(c net.Conn) bool { return c == nil }), firstErr
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = mysqlwire.WritePacket(c, 0, []byte{mysqlwire.ComQuit})
		c.Close()
	}
}

// latency times one client's pings, one at a time, through every target:
// what a single busy connection waits per statement, which throughput
// with many clients hides.
func latency(ctx context.Context, o options, targets []target) error {
	const pings = 3000
	rtt := map[string][]float64{}
	for r := range o.rounds {
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			d, err := pingRTT(ctx, o, t.addr, pings)
			if err != nil {
				return fmt.Errorf("latency through %s: %w", t.name, err)
			}
			rtt[t.name] = append(rtt[t.name], d)
		}
	}
	fmt.Printf("\nlatency: one connection, %d COM_PINGs one at a time, %d rounds (medians):\n", pings, o.rounds)
	for _, t := range targets {
		fmt.Printf("  %-8s %7.1f µs per round trip\n", t.name, median(rtt[t.name]))
	}
	fmt.Printf("  Portico/HAProxy: %.3f×\n\n", median(rtt["portico"])/median(rtt["haproxy"]))
	return nil
}

// pingRTT returns the mean round trip, in µs, of n pings on one connection
// to addr, after a warm-up.
func pingRTT(ctx context.Context, o options, addr string, n int) (float64, error) {
	db, err := open(o, addr)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	for range 200 {
		if err := c.PingContext(ctx); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	for range n {
		if err := c.PingContext(ctx); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

func open(o options, addr string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", addr, o.user, o.password
	// The sequence engine's seq_1_to_N tables need a current database;
	// mysql is in every server.
	cfg.DBName = "mysql"
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// startPortico starts Portico with global added to its [maxscale] section.
func startPortico(ctx context.Context, o options, host, port, name, global string, env []string) (target, func(), error) {
	listen, admin := freePort(), freePort()
	dir, _ := filepath.Abs(filepath.Join(o.work, name))
	cnf := filepath.Join(o.work, name+".cnf")
	text := fmt.Sprintf(`[maxscale]
admin_host=127.0.0.1
admin_port=%d
datadir=%s
admin_secure_gui=false
%s
[db]
type=server
address=%s
port=%s

[svc]
type=service
router=readconnroute
servers=db
user=%s
password=%s

[lst]
type=listener
service=svc
address=127.0.0.1
port=%d
`, admin, dir, global, host, port, o.user, o.password, listen)
	if err := os.WriteFile(cnf, []byte(text), 0o644); err != nil {
		return target{}, nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	pid, stop, err := startProcess(ctx, filepath.Join(o.work, name+".log"), addr, env, o.portico, "--config", cnf)
	return target{name: name, addr: addr, pid: pid}, stop, err
}

func startHAProxy(ctx context.Context, o options, host, port string) (target, func(), error) {
	listen := freePort()
	cfg := filepath.Join(o.work, "haproxy.cfg")
	text := fmt.Sprintf(`global
    maxconn %d

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen mariadb
    bind 127.0.0.1:%d
    server db %s
`, o.idle+20, listen, net.JoinHostPort(host, port))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return target{}, nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(listen))
	pid, stop, err := startProcess(ctx, filepath.Join(o.work, "haproxy.log"), addr, nil, o.haproxy, "-db", "-f", cfg)
	return target{name: "haproxy", addr: addr, pid: pid}, stop, err
}

// startProcess runs a proxy with its output in logFile and waits until it
// accepts connections on addr.
func startProcess(ctx context.Context, logFile, addr string, env []string, name string, args ...string) (int, func(), error) {
	out, err := os.Create(logFile)
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		out.Close()
		return 0, nil, fmt.Errorf("start %s: %w", name, err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		out.Close()
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return cmd.Process.Pid, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return 0, nil, fmt.Errorf("%s did not listen on %s; see %s", name, addr, logFile)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("benchproxy: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cpuTicks returns the user and system time pid has used, in clock ticks;
// 0 for pid 0.
func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields count from after it.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// machineTicks returns the whole machine's busy and idle time, in clock
// ticks, from /proc/stat. Idle time during a run is throughput a proxy lost
// to latency rather than to CPU: every process was waiting on another.
func machineTicks() (busy, idle int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
			idle += n
		case 8, 9: // guest time, already counted in user
		default:
			busy += n
		}
	}
	return busy, idle
}

// ticksToSeconds assumes Linux's USER_HZ of 100, which every mainstream
// architecture uses.
func ticksToSeconds(t int64) float64 { return float64(t) / 100 }

func rssKB(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// raiseFileLimit raises the open-files limit to n if it can, and returns
// the limit the proxies it starts will inherit.
func raiseFileLimit(n uint64) uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	want := syscall.Rlimit{Cur: max(l.Cur, n), Max: max(l.Max, n)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		// Not root: go as far as the hard limit allows.
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: l.Max, Max: l.Max})
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}
