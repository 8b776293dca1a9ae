// Package config reads the subset of MaxScale's maxscale.cnf that Portico
// understands, so an existing MaxScale configuration can be pointed at Portico
// unchanged. Every error names the file and line so an operator can fix it
// without guessing.
package config

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portico-db/portico/core"
)

// Defaults match MaxScale's, so an omitted setting behaves the same in both.
const (
	DefaultAdminHost   = "127.0.0.1"
	DefaultAdminPort   = 8989
	DefaultServerPort  = 3306
	DefaultAdminUser   = "admin"
	DefaultAdminPasswd = "mariadb"
	// DefaultDataDir is where Portico keeps state, the admin users file
	// among it: the same place MaxScale uses, /var/lib/maxscale, under
	// Portico's name. The bundled configurations set datadir to .tmp/ paths
	// so that development runs need no privileges.
	DefaultDataDir        = "/var/lib/portico"
	DefaultAdminJWTMaxAge = 24 * time.Hour
	// DefaultMonitorInterval and DefaultMonitorConnectTimeout are
	// mariadbmon's monitor_interval and backend_connect_timeout.
	DefaultMonitorInterval       = 2 * time.Second
	DefaultMonitorConnectTimeout = 3 * time.Second
)

// Config is a loaded configuration.
type Config struct {
	AdminHost string
	AdminPort int
	// DataDir holds Portico's state, such as the admin users file.
	DataDir string
	// AdminSecureGUI refuses GET /auth and the dashboard over plain HTTP,
	// as MaxScale's admin_secure_gui does.
	AdminSecureGUI bool
	// AdminMetricsAuth puts GET /metrics behind the API's authentication;
	// false lets a Prometheus server scrape without admin credentials.
	AdminMetricsAuth bool
	// AdminJWTMaxAge caps the lifetime of the tokens the API issues.
	AdminJWTMaxAge time.Duration
	// AdminSSLCert and AdminSSLKey, both set or both empty, are PEM files
	// that put the admin interface on HTTPS.
	AdminSSLCert string
	AdminSSLKey  string
	// Threads is how many event loops relay sessions, MaxScale's threads;
	// 0 is auto, which leaves the choice to the proxy.
	Threads  int
	Topology core.Topology
	// Warnings lists settings that were read but are not acted on, so that the
	// operator learns what Portico ignores instead of being refused.
	Warnings []string
}

// Error is a configuration problem at a place in a file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

type value struct {
	v    string
	line int
}

type section struct {
	name string
	line int
	keys map[string]value
}

func (s *section) get(k string) (value, bool) {
	v, ok := s.keys[k]
	return v, ok
}

// Parse reads a configuration from r; name is used in error messages.
func Parse(name string, r io.Reader) (*Config, error) {
	sections, err := parseINI(name, r)
	if err != nil {
		return nil, err
	}
	return build(name, sections)
}

func parseINI(name string, r io.Reader) ([]*section, error) {
	var (
		sections []*section
		cur      *section
		seen     = map[string]int{}
		lineNo   int
	)
	errf := func(format string, args ...any) error {
		return &Error{File: name, Line: lineNo, Msg: fmt.Sprintf(format, args...)}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, errf("section header %q is missing its closing ']'", line)
			}
			sname := strings.TrimSpace(line[1 : len(line)-1])
			if sname == "" {
				return nil, errf("empty section name")
			}
			if prev, ok := seen[sname]; ok {
				return nil, errf("section [%s] is already defined on line %d", sname, prev)
			}
			seen[sname] = lineNo
			cur = &section{name: sname, line: lineNo, keys: map[string]value{}}
			sections = append(sections, cur)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, errf("expected 'key=value' or '[section]', got %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, errf("missing parameter name before '='")
		}
		if cur == nil {
			return nil, errf("parameter %q appears before any [section]", k)
		}
		if prev, ok := cur.keys[k]; ok {
			return nil, errf("parameter %q is already set on line %d", k, prev.line)
		}
		cur.keys[k] = value{v: v, line: lineNo}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: lineNo + 1, Msg: fmt.Sprintf("read: %v", err)}
	}
	return sections, nil
}

// known lists the parameters Portico acts on, per section type.
var known = map[string]map[string]bool{
	"maxscale": {"admin_host": true, "admin_port": true, "datadir": true, "admin_secure_gui": true,
		"admin_metrics_auth": true, "admin_jwt_max_age": true, "admin_ssl_cert": true, "admin_ssl_key": true, "retain_last_statements": true,
		"threads": true},
	"server": {"type": true, "address": true, "port": true, "ssl": true, "ssl_ca": true, "ssl_cert": true, "ssl_key": true,
		"ssl_verify_peer_certificate": true, "ssl_verify_peer_host": true, "ssl_version": true},
	"service": {"type": true, "router": true, "router_options": true, "servers": true, "targets": true, "user": true, "password": true,
		"retain_last_statements": true},
	"listener": {"type": true, "service": true, "address": true, "port": true, "ssl": true, "ssl_cert": true, "ssl_key": true, "ssl_ca": true,
		"ssl_verify_peer_certificate": true, "ssl_version": true},
	"monitor": {"type": true, "module": true, "servers": true, "user": true, "password": true,
		"monitor_interval": true, "backend_connect_timeout": true},
}

// routerOptions are the server roles readconnroute's router_options accepts.
var routerOptions = map[string]bool{"master": true, "slave": true, "synced": true, "running": true}

func build(name string, sections []*section) (*Config, error) {
	cfg := &Config{AdminHost: DefaultAdminHost, AdminPort: DefaultAdminPort, DataDir: DefaultDataDir,
		AdminSecureGUI: true, AdminMetricsAuth: true, AdminJWTMaxAge: DefaultAdminJWTMaxAge}
	errAt := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	warn := func(line int, format string, args ...any) {
		cfg.Warnings = append(cfg.Warnings, errAt(line, format, args...).Error())
	}
	port := func(s *section, key string, def int) (int, error) {
		v, ok := s.get(key)
		if !ok {
			if def == 0 {
				return 0, errAt(s.line, "[%s] needs %s", s.name, key)
			}
			return def, nil
		}
		n, err := strconv.Atoi(v.v)
		if err != nil || n < 1 || n > 65535 {
			return 0, errAt(v.line, "%s=%q is not a port number (1-65535)", key, v.v)
		}
		return n, nil
	}
	// count reads a non-negative integer such as retain_last_statements.
	count := func(s *section, key string, def int) (int, error) {
		v, ok := s.get(key)
		if !ok {
			return def, nil
		}
		n, err := strconv.Atoi(v.v)
		if err != nil || n < 0 {
			return 0, errAt(v.line, "%s=%q is not a count (0 or more)", key, v.v)
		}
		return n, nil
	}
	// retain is [maxscale] retain_last_statements, the default for services.
	retain := 0
	var services []*section
	var listeners []*section
	var monitors []*section
	servers := map[string]bool{}
	for _, s := range sections {
		typ := "maxscale"
		if s.name != "maxscale" {
			t, ok := s.get("type")
			if !ok {
				return nil, errAt(s.line, "[%s] has no type parameter", s.name)
			}
			typ = t.v
		}
		if typ == "monitor" {
			// Only mariadbmon is understood; another module's parameters
			// would be warned about one by one, which says less than this.
			if m, ok := s.get("module"); ok && m.v != "mariadbmon" {
				warn(m.line, "[%s]: module=%s is not supported yet and the monitor is ignored; only mariadbmon is", s.name, m.v)
				continue
			}
		}
		kn, ok := known[typ]
		if !ok {
			switch typ {
			case "filter":
				warn(s.line, "[%s]: type=%s is not supported yet and is ignored", s.name, typ)
				continue
			}
			t := s.keys["type"]
			return nil, errAt(t.line, "[%s] has unknown type %q (want server, service, listener, monitor or filter)", s.name, typ)
		}
		for k, v := range s.keys {
			if !kn[k] {
				warn(v.line, "[%s]: parameter %q is not supported yet and is ignored", s.name, k)
			}
		}
		switch typ {
		case "maxscale":
			if v, ok := s.get("admin_host"); ok {
				cfg.AdminHost = v.v
			}
			p, err := port(s, "admin_port", DefaultAdminPort)
			if err != nil {
				return nil, err
			}
			cfg.AdminPort = p
			if retain, err = count(s, "retain_last_statements", 0); err != nil {
				return nil, err
			}
			if v, ok := s.get("threads"); ok && v.v != "auto" {
				n, err := strconv.Atoi(v.v)
				if err != nil || n < 1 {
					return nil, errAt(v.line, "threads=%q is neither auto nor a number of threads (1 or more)", v.v)
				}
				cfg.Threads = n
			}
			if err := buildAdmin(cfg, s, errAt, warn); err != nil {
				return nil, err
			}
		case "server":
			addr, ok := s.get("address")
			if !ok || addr.v == "" {
				return nil, errAt(s.line, "[%s] needs address", s.name)
			}
			p, err := port(s, "port", DefaultServerPort)
			if err != nil {
				return nil, err
			}
			srv := core.Server{Name: s.name, Address: addr.v, Port: p}
			if err := buildServerTLS(&srv, s, errAt); err != nil {
				return nil, err
			}
			cfg.Topology.Servers = append(cfg.Topology.Servers, srv)
			servers[s.name] = true
		case "service":
			services = append(services, s)
		case "listener":
			listeners = append(listeners, s)
		case "monitor":
			monitors = append(monitors, s)
		}
	}
	if err := buildMonitors(cfg, monitors, servers, errAt); err != nil {
		return nil, err
	}
	svcNames := map[string]bool{}
	for _, s := range services {
		router, ok := s.get("router")
		if !ok {
			return nil, errAt(s.line, "[%s] needs router", s.name)
		}
		if router.v != "readconnroute" {
			warn(router.line, "[%s]: router=%s is not supported yet; sessions are routed as readconnroute", s.name, router.v)
		}
		list, ok := s.get("servers")
		if t, tok := s.get("targets"); tok {
			if ok {
				return nil, errAt(t.line, "[%s] sets both servers and targets", s.name)
			}
			list, ok = t, tok
		}
		if !ok {
			return nil, errAt(s.line, "[%s] needs servers", s.name)
		}
		svc := core.Service{Name: s.name, Router: router.v, User: s.keys["user"].v, Password: s.keys["password"].v}
		var err error
		if svc.RetainLastStatements, err = count(s, "retain_last_statements", retain); err != nil {
			return nil, err
		}
		if svc.RouterOptions, err = parseRouterOptions(s, errAt, warn); err != nil {
			return nil, err
		}
		for _, n := range strings.Split(list.v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !servers[n] {
				return nil, errAt(list.line, "[%s] refers to server %q, which is not defined", s.name, n)
			}
			svc.Servers = append(svc.Servers, n)
		}
		if len(svc.Servers) == 0 {
			return nil, errAt(list.line, "[%s] lists no servers", s.name)
		}
		cfg.Topology.Services = append(cfg.Topology.Services, svc)
		svcNames[s.name] = true
	}
	for _, s := range listeners {
		svc, ok := s.get("service")
		if !ok {
			return nil, errAt(s.line, "[%s] needs service", s.name)
		}
		if !svcNames[svc.v] {
			return nil, errAt(svc.line, "[%s] refers to service %q, which is not defined", s.name, svc.v)
		}
		p, err := port(s, "port", 0)
		if err != nil {
			return nil, err
		}
		addr := "::"
		if v, ok := s.get("address"); ok {
			addr = v.v
		}
		l := core.Listener{Name: s.name, Service: svc.v, Address: addr, Port: p}
		if err := buildListenerTLS(&l, s, errAt); err != nil {
			return nil, err
		}
		cfg.Topology.Listeners = append(cfg.Topology.Listeners, l)
	}
	if len(cfg.Topology.Listeners) == 0 {
		return nil, &Error{File: name, Msg: "no listener is defined, so Portico would accept no clients"}
	}
	return cfg, nil
}

// parseRouterOptions reads a service's router_options: server roles, of
// which a server must have one to be routed to.
func parseRouterOptions(s *section, errAt func(int, string, ...any) error, warn func(int, string, ...any)) ([]string, error) {
	v, ok := s.get("router_options")
	if !ok {
		return nil, nil
	}
	var opts []string
	for _, o := range strings.Split(v.v, ",") {
		o = strings.ToLower(strings.TrimSpace(o))
		if o == "" {
			continue
		}
		if !routerOptions[o] {
			return nil, errAt(v.line, "[%s]: router_options=%s: unknown server role %q (want master, slave, synced or running)", s.name, v.v, o)
		}
		if o == "synced" {
			warn(v.line, "[%s]: router_options=synced needs a Galera monitor, which Portico does not have: "+
				"only servers that no monitor watches can be routed to", s.name)
		}
		opts = append(opts, o)
	}
	if len(opts) == 0 {
		return nil, errAt(v.line, "[%s]: router_options is empty; omit it for the default, running", s.name)
	}
	return opts, nil
}

// buildMonitors reads the mariadbmon monitor sections. A server may belong
// to one monitor only, as in MaxScale: two would fight over its state.
func buildMonitors(cfg *Config, monitors []*section, servers map[string]bool, errAt func(int, string, ...any) error) error {
	owner := map[string]string{}
	for _, s := range monitors {
		if _, ok := s.get("module"); !ok {
			return errAt(s.line, "[%s] needs module (Portico supports mariadbmon)", s.name)
		}
		list, ok := s.get("servers")
		if !ok {
			return errAt(s.line, "[%s] needs servers", s.name)
		}
		user, ok := s.get("user")
		if !ok || user.v == "" {
			return errAt(s.line, "[%s] needs user (and password): the monitor logs in to each server", s.name)
		}
		m := core.Monitor{Name: s.name, Module: "mariadbmon", User: user.v, Password: s.keys["password"].v,
			Interval: DefaultMonitorInterval, ConnectTimeout: DefaultMonitorConnectTimeout}
		for _, n := range strings.Split(list.v, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if !servers[n] {
				return errAt(list.line, "[%s] refers to server %q, which is not defined", s.name, n)
			}
			if o, ok := owner[n]; ok {
				return errAt(list.line, "[%s]: server %q is already monitored by [%s]", s.name, n, o)
			}
			owner[n] = s.name
			m.Servers = append(m.Servers, n)
		}
		if len(m.Servers) == 0 {
			return errAt(list.line, "[%s] lists no servers", s.name)
		}
		// MaxScale reads a bare monitor_interval as milliseconds but a bare
		// backend_connect_timeout as seconds.
		for _, d := range []struct {
			key  string
			bare time.Duration
			dst  *time.Duration
		}{{"monitor_interval", time.Millisecond, &m.Interval}, {"backend_connect_timeout", time.Second, &m.ConnectTimeout}} {
			v, ok := s.get(d.key)
			if !ok {
				continue
			}
			n, _, err := parseDurationBare(v.v, d.bare)
			if err != nil {
				return errAt(v.line, "%s=%q: %v", d.key, v.v, err)
			}
			if n <= 0 {
				return errAt(v.line, "%s=%q: must be more than zero", d.key, v.v)
			}
			*d.dst = n
		}
		cfg.Topology.Monitors = append(cfg.Topology.Monitors, m)
	}
	return nil
}

// buildAdmin reads the [maxscale] parameters of the admin interface other
// than its address.
func buildAdmin(cfg *Config, s *section, errAt func(int, string, ...any) error, warn func(int, string, ...any)) error {
	if v, ok := s.get("datadir"); ok {
		if v.v == "" {
			return errAt(v.line, "datadir is empty; omit it for the default %s", DefaultDataDir)
		}
		cfg.DataDir = v.v
	}
	if v, ok := s.get("admin_secure_gui"); ok {
		b, err := parseBool(v.v)
		if err != nil {
			return errAt(v.line, "admin_secure_gui=%q: %v", v.v, err)
		}
		cfg.AdminSecureGUI = b
	}
	if v, ok := s.get("admin_metrics_auth"); ok {
		b, err := parseBool(v.v)
		if err != nil {
			return errAt(v.line, "admin_metrics_auth=%q: %v", v.v, err)
		}
		cfg.AdminMetricsAuth = b
	}
	if v, ok := s.get("admin_jwt_max_age"); ok {
		d, unitless, err := parseDuration(v.v)
		if err != nil {
			return errAt(v.line, "admin_jwt_max_age=%q: %v", v.v, err)
		}
		if d < time.Second {
			return errAt(v.line, "admin_jwt_max_age=%q: must be at least 1s", v.v)
		}
		if unitless {
			warn(v.line, "[%s]: admin_jwt_max_age=%s has no unit and is read as seconds; write %ss", s.name, v.v, v.v)
		}
		cfg.AdminJWTMaxAge = d
	}
	cert, hasCert := s.get("admin_ssl_cert")
	key, hasKey := s.get("admin_ssl_key")
	hasCert, hasKey = hasCert && cert.v != "", hasKey && key.v != ""
	switch {
	case hasCert && !hasKey:
		return errAt(cert.line, "admin_ssl_cert is set but admin_ssl_key is not: HTTPS needs both")
	case hasKey && !hasCert:
		return errAt(key.line, "admin_ssl_key is set but admin_ssl_cert is not: HTTPS needs both")
	}
	cfg.AdminSSLCert, cfg.AdminSSLKey = cert.v, key.v
	return nil
}

// boolParam reads an optional boolean parameter.
func boolParam(s *section, key string, errAt func(int, string, ...any) error) (bool, error) {
	v, ok := s.get(key)
	if !ok {
		return false, nil
	}
	b, err := parseBool(v.v)
	if err != nil {
		return false, errAt(v.line, "%s=%q: %v", key, v.v, err)
	}
	return b, nil
}

// sslVersions reads ssl_version, MaxScale's comma-separated list of TLS
// versions (TLSv10, TLSv11, TLSv12, TLSv13), or MAX for the default,
// which is nil.
func sslVersions(s *section, errAt func(int, string, ...any) error) ([]string, error) {
	v, ok := s.get("ssl_version")
	if !ok {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(v.v, ",") {
		name := strings.TrimSpace(f)
		switch strings.ToUpper(name) {
		case "MAX":
			continue
		case "TLSV10", "TLSV11", "TLSV12", "TLSV13":
			out = append(out, "TLSv"+name[4:])
		default:
			return nil, errAt(v.line, "ssl_version=%q: unknown version %q (want TLSv10, TLSv11, TLSv12, TLSv13 or MAX)", v.v, name)
		}
	}
	return out, nil
}

// buildListenerTLS reads a listener's ssl parameters. The files are only
// named here; they are read, and their errors reported, when Portico starts.
func buildListenerTLS(l *core.Listener, s *section, errAt func(int, string, ...any) error) error {
	var err error
	if l.SSL, err = boolParam(s, "ssl", errAt); err != nil {
		return err
	}
	l.SSLCert, l.SSLKey, l.SSLCA = s.keys["ssl_cert"].v, s.keys["ssl_key"].v, s.keys["ssl_ca"].v
	if l.SSLVerifyPeerCertificate, err = boolParam(s, "ssl_verify_peer_certificate", errAt); err != nil {
		return err
	}
	if l.SSLVersions, err = sslVersions(s, errAt); err != nil {
		return err
	}
	if !l.SSL {
		return nil
	}
	line := s.keys["ssl"].line
	switch {
	case l.SSLCert == "" && l.SSLKey == "":
		return errAt(line, "[%s] sets ssl=true but not ssl_cert and ssl_key: a TLS listener needs its certificate and key", s.name)
	case l.SSLCert == "":
		return errAt(line, "[%s] sets ssl=true but not ssl_cert: a TLS listener needs its certificate", s.name)
	case l.SSLKey == "":
		return errAt(line, "[%s] sets ssl=true but not ssl_key: a TLS listener needs its key", s.name)
	}
	return nil
}

// buildServerTLS reads a server's ssl parameters.
func buildServerTLS(srv *core.Server, s *section, errAt func(int, string, ...any) error) error {
	var err error
	if srv.SSL, err = boolParam(s, "ssl", errAt); err != nil {
		return err
	}
	if srv.SSLVerifyPeerCertificate, err = boolParam(s, "ssl_verify_peer_certificate", errAt); err != nil {
		return err
	}
	if srv.SSLVerifyPeerHost, err = boolParam(s, "ssl_verify_peer_host", errAt); err != nil {
		return err
	}
	if srv.SSLVersions, err = sslVersions(s, errAt); err != nil {
		return err
	}
	srv.SSLCA, srv.SSLCert, srv.SSLKey = s.keys["ssl_ca"].v, s.keys["ssl_cert"].v, s.keys["ssl_key"].v
	if (srv.SSLCert == "") != (srv.SSLKey == "") {
		k := "ssl_cert"
		if srv.SSLCert == "" {
			k = "ssl_key"
		}
		return errAt(s.keys[k].line, "[%s] sets only one of ssl_cert and ssl_key: a client certificate needs both", s.name)
	}
	return nil
}

// parseBool accepts MaxScale's boolean spellings.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (use true or false)")
}

// parseDuration accepts MaxScale's durations: an integer with one of the
// units h, m, s or ms, or a bare integer, which MaxScale reads as seconds
// for compatibility (unitless reports that case).
func parseDuration(s string) (d time.Duration, unitless bool, err error) {
	return parseDurationBare(s, time.Second)
}

// parseDurationBare is parseDuration with bare integers read in units of
// bare.
func parseDurationBare(s string, bare time.Duration) (d time.Duration, unitless bool, err error) {
	digits := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := s[len(digits):]
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || digits[0] == '+' {
		return 0, false, fmt.Errorf("not a duration (use a whole number with h, m, s or ms, e.g. 24h)")
	}
	units := map[string]time.Duration{"": bare, "h": time.Hour, "m": time.Minute, "s": time.Second, "ms": time.Millisecond}
	u, ok := units[unit]
	if !ok {
		return 0, false, fmt.Errorf("unknown duration unit %q (use h, m, s or ms)", unit)
	}
	if n > int64((1<<63-1)/u) {
		return 0, false, fmt.Errorf("duration is too long")
	}
	return time.Duration(n) * u, unit == "", nil
}
