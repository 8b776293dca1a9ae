package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-db/portico/core"
)

// sessionCollector reads the registry when Prometheus scrapes, so the proxy
// pays nothing per packet for the metrics: the counters it reads are the
// ones the REST API already shows.
type sessionCollector struct {
	sessions Sessions
	streams  *hub

	sessionsDesc *prometheus.Desc
	totalDesc    *prometheus.Desc
	bytesDesc    *prometheus.Desc
	packetsDesc  *prometheus.Desc
	queriesDesc  *prometheus.Desc
	streamsDesc  *prometheus.Desc
}

func newSessionCollector(sessions Sessions, streams *hub) *sessionCollector {
	return &sessionCollector{
		sessions: sessions,
		streams:  streams,
		sessionsDesc: prometheus.NewDesc("portico_sessions",
			"Live client sessions by service and state.",
			[]string{"service", "state"}, nil),
		totalDesc: prometheus.NewDesc("portico_sessions_opened_total",
			"Client sessions opened per service since Portico started.",
			[]string{"service"}, nil),
		// The registry keeps traffic per live session only, so these drop
		// when a session closes: they are gauges, not counters.
		bytesDesc: prometheus.NewDesc("portico_session_bytes",
			"Client-side bytes of the live sessions (closed sessions are not counted), by direction: in is read from clients, out written to them.",
			[]string{"direction"}, nil),
		packetsDesc: prometheus.NewDesc("portico_session_packets",
			"Client-side MySQL packets of the live sessions (closed sessions are not counted), by direction.",
			[]string{"direction"}, nil),
		queriesDesc: prometheus.NewDesc("portico_session_queries",
			"Statements executed by the live sessions (closed sessions are not counted), by service.",
			[]string{"service"}, nil),
		streamsDesc: prometheus.NewDesc("portico_stream_connections",
			"Open websocket connections to the session stream.",
			nil, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessionsDesc
	ch <- c.totalDesc
	ch <- c.bytesDesc
	ch <- c.packetsDesc
	ch <- c.queriesDesc
	ch <- c.streamsDesc
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct {
		service string
		state   core.State
	}
	counts := c.sessions.ServiceCounts()
	byState := make(map[key]int)
	queries := make(map[string]uint64, len(counts))
	var traffic core.Traffic
	_, live := c.sessions.List()
	for _, s := range live {
		byState[key{s.Service, s.State}]++
		queries[s.Service] += s.Traffic.Queries
		traffic.BytesIn += s.Traffic.BytesIn
		traffic.BytesOut += s.Traffic.BytesOut
		traffic.PacketsIn += s.Traffic.PacketsIn
		traffic.PacketsOut += s.Traffic.PacketsOut
	}
	for k, n := range byState {
		ch <- prometheus.MustNewConstMetric(c.sessionsDesc, prometheus.GaugeValue, float64(n), k.service, string(k.state))
	}
	for service, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.totalDesc, prometheus.CounterValue, float64(n.Total), service)
		// Every service that has had a session gets a series, so a rate
		// over it does not vanish while the service is idle.
		ch <- prometheus.MustNewConstMetric(c.queriesDesc, prometheus.GaugeValue, float64(queries[service]), service)
	}
	ch <- prometheus.MustNewConstMetric(c.bytesDesc, prometheus.GaugeValue, float64(traffic.BytesIn), "in")
	ch <- prometheus.MustNewConstMetric(c.bytesDesc, prometheus.GaugeValue, float64(traffic.BytesOut), "out")
	ch <- prometheus.MustNewConstMetric(c.packetsDesc, prometheus.GaugeValue, float64(traffic.PacketsIn), "in")
	ch <- prometheus.MustNewConstMetric(c.packetsDesc, prometheus.GaugeValue, float64(traffic.PacketsOut), "out")
	ch <- prometheus.MustNewConstMetric(c.streamsDesc, prometheus.GaugeValue, float64(c.streams.connections()))
}

// connections is how many stream connections are admitted and not yet done.
func (h *hub) connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns
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
func newMetricsHandler(sessions Sessions, streams *hub, servers *serverCollector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newSessionCollector(sessions, streams),
		servers,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
