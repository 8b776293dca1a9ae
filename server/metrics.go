package server

import (
	"maps"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-db/portico/core"
)

// serviceStats is what /metrics needs from the session registry.
type serviceStats interface {
	ServiceStats() map[string]core.ServiceStats
}

var _ serviceStats = (*core.Registry)(nil)

// sessionStates are the states every service reports, zero or not, so that
// a series does not vanish while no session is in that state.
var sessionStates = [...]core.State{core.StateAllocated, core.StateReady, core.StateStopping}

// resetReasons are the stream's reset reasons, all reported for the same
// reason.
var resetReasons = [...]string{resetExpired, resetEpoch, resetLagging}

// sessionCollector reads the registry's per-service totals and the stream
// hub when Prometheus scrapes. The proxy only bumps its sessions' counters
// and each statement's histogram bucket; everything else is summed here.
type sessionCollector struct {
	stats    serviceStats
	topology *core.Topology
	streams  *hub

	sessionsDesc      *prometheus.Desc
	connectsDesc      *prometheus.Desc
	authFailuresDesc  *prometheus.Desc
	killsDesc         *prometheus.Desc
	bytesDesc         *prometheus.Desc
	packetsDesc       *prometheus.Desc
	queriesDesc       *prometheus.Desc
	queryDurationDesc *prometheus.Desc
	subscribersDesc   *prometheus.Desc
	laggingDesc       *prometheus.Desc
	droppedDesc       *prometheus.Desc
	resetsDesc        *prometheus.Desc
}

func newSessionCollector(stats serviceStats, topology *core.Topology, streams *hub) *sessionCollector {
	service := []string{"service"}
	return &sessionCollector{
		stats:    stats,
		topology: topology,
		streams:  streams,
		sessionsDesc: prometheus.NewDesc("portico_sessions",
			"Live client sessions by service and state.",
			[]string{"service", "state"}, nil),
		connectsDesc: prometheus.NewDesc("portico_connects_total",
			"Client connections accepted, whether or not their login succeeded.",
			service, nil),
		authFailuresDesc: prometheus.NewDesc("portico_auth_failures_total",
			"Logins the backend refused with an error, at connect or on COM_CHANGE_USER. Connections that fail before authentication (no server, timeout, bad packet) are not counted.",
			service, nil),
		killsDesc: prometheus.NewDesc("portico_kills_total",
			"Sessions an operator killed through the API or the dashboard, at once or after a ttl. Clients' own KILL statements are not counted.",
			service, nil),
		bytesDesc: prometheus.NewDesc("portico_bytes_total",
			"Bytes between clients and Portico, by direction: in is read from clients, out written to them.",
			[]string{"service", "direction"}, nil),
		packetsDesc: prometheus.NewDesc("portico_packets_total",
			"MySQL protocol packets between clients and Portico, by direction.",
			[]string{"service", "direction"}, nil),
		queriesDesc: prometheus.NewDesc("portico_queries_total",
			"Statements clients sent: COM_QUERY, COM_STMT_EXECUTE and COM_STMT_BULK_EXECUTE.",
			service, nil),
		queryDurationDesc: prometheus.NewDesc("portico_query_duration_seconds",
			"Time from a statement's arrival from the client to the end of its reply. Replies the proxy cannot follow are not timed.",
			service, nil),
		subscribersDesc: prometheus.NewDesc("portico_stream_subscribers",
			"Open websocket connections to the session stream.",
			nil, nil),
		laggingDesc: prometheus.NewDesc("portico_stream_lagging_total",
			"Times a stream connection fell behind: its queue of frames filled, and it had to catch up from the registry.",
			nil, nil),
		droppedDesc: prometheus.NewDesc("portico_stream_dropped_total",
			"Stream connections closed (1008) because they stayed behind for the lag limit.",
			nil, nil),
		resetsDesc: prometheus.NewDesc("portico_stream_resets_total",
			"Reset frames sent to stream connections, which then start over from a snapshot, by reason.",
			[]string{"reason"}, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.stats.ServiceStats()
	// Every configured service gets its series from the start, so that a
	// rate over them exists before the first session. Sessions may name
	// other services (a simulation's, say): they are reported too.
	var names []string
	if c.topology != nil {
		for _, svc := range c.topology.Services {
			names = append(names, svc.Name)
		}
	}
	for name := range stats {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		st, ok := stats[name]
		if !ok {
			st.QueryDuration = core.EmptyHistogram()
		}
		c.collectService(ch, name, st)
	}

	streams := c.streams.metrics()
	ch <- prometheus.MustNewConstMetric(c.subscribersDesc, prometheus.GaugeValue, float64(streams.subscribers))
	ch <- prometheus.MustNewConstMetric(c.laggingDesc, prometheus.CounterValue, float64(streams.lagging))
	ch <- prometheus.MustNewConstMetric(c.droppedDesc, prometheus.CounterValue, float64(streams.dropped))
	for _, reason := range resetReasons {
		ch <- prometheus.MustNewConstMetric(c.resetsDesc, prometheus.CounterValue, float64(streams.resets[reason]), reason)
	}
}

func (c *sessionCollector) collectService(ch chan<- prometheus.Metric, name string, st core.ServiceStats) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{name}, labels...)...)
	}
	for _, state := range sessionStates {
		ch <- prometheus.MustNewConstMetric(c.sessionsDesc, prometheus.GaugeValue, float64(st.Sessions[state]), name, string(state))
	}
	counter(c.connectsDesc, st.Connects)
	counter(c.authFailuresDesc, st.AuthFailures)
	counter(c.killsDesc, st.Kills)
	counter(c.bytesDesc, st.Traffic.BytesIn, "in")
	counter(c.bytesDesc, st.Traffic.BytesOut, "out")
	counter(c.packetsDesc, st.Traffic.PacketsIn, "in")
	counter(c.packetsDesc, st.Traffic.PacketsOut, "out")
	counter(c.queriesDesc, st.Traffic.Queries)

	h := st.QueryDuration
	buckets := make(map[float64]uint64, len(h.Buckets))
	for _, b := range h.Buckets {
		buckets[b.UpperBound.Seconds()] = b.Count
	}
	ch <- prometheus.MustNewConstHistogram(c.queryDurationDesc, h.Count, h.Sum.Seconds(), buckets, name)
}

// streamMetrics is what the stream hub has counted.
type streamMetrics struct {
	subscribers      int
	lagging, dropped uint64
	resets           map[string]uint64
}

func (h *hub) metrics() streamMetrics {
	h.mu.Lock()
	defer h.mu.Unlock()
	return streamMetrics{
		subscribers: h.conns,
		lagging:     h.lagging.Load(),
		dropped:     h.dropped.Load(),
		resets:      maps.Clone(h.resets),
	}
}

// serverCollector reports whether each server is up, as its monitor or,
// for a server no monitor watches, the proxy last found it.
type serverCollector struct {
	topology *core.Topology
	states   ServerStates
	upDesc   *prometheus.Desc
}

func newServerCollector(topology *core.Topology, states ServerStates) *serverCollector {
	return &serverCollector{
		topology: topology,
		states:   states,
		upDesc: prometheus.NewDesc("portico_server_up",
			"1 if the backend server is up, 0 if it is down, as its monitor (or, without one, the proxy) last found it. A server of unknown state has no series.",
			[]string{"server"}, nil),
	}
}

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.upDesc }

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	if c.states == nil || c.topology == nil {
		return
	}
	for _, srv := range c.topology.Servers {
		st, ok := c.states.Get(srv.Name)
		if !ok {
			continue
		}
		up := 0.0
		if st.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, up, srv.Name)
	}
}

// newMetricsHandler serves a private registry, not Prometheus's global one,
// so that two servers in one process (as in the tests) do not collide.
func newMetricsHandler(stats serviceStats, topology *core.Topology, streams *hub, servers *serverCollector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newSessionCollector(stats, topology, streams),
		servers,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
