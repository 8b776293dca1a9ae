package core

import "time"

// Server is a backend database server as configured.
type Server struct {
	Name    string
	Address string
	Port    int
	// SSL makes Portico speak TLS to the server (MaxScale's ssl).
	SSL bool
	// SSLCA is the PEM file of CAs the server's certificate is checked
	// against; empty uses the system's. SSLCert and SSLKey are Portico's
	// client certificate, for servers that ask for one.
	SSLCA, SSLCert, SSLKey string
	// SSLVerifyPeerCertificate checks the server's certificate against the
	// CAs, and SSLVerifyPeerHost also that it names Address. Both are off
	// by default, as in MaxScale: the traffic is still encrypted.
	SSLVerifyPeerCertificate bool
	SSLVerifyPeerHost        bool
	// SSLVersions are the TLS versions allowed ("TLSv12", "TLSv13"); empty
	// allows TLS 1.2 and later.
	SSLVersions []string
}

// Service routes sessions to a set of servers.
type Service struct {
	Name    string
	Router  string
	Servers []string
	// RouterOptions are the server roles readconnroute may route to:
	// "master", "slave", "synced" or "running" (MaxScale's router_options).
	// A server qualifies if it has any of them; empty means running.
	RouterOptions []string
	// User and Password are the service credentials MaxScale uses for its own
	// side connections to the servers (for example to KILL a backend thread).
	User     string
	Password string
	// RetainLastStatements is how many statements each session keeps for
	// the API (MaxScale's retain_last_statements); 0 keeps none.
	RetainLastStatements int
}

// Monitor watches the health and replication role of a set of servers, as
// a MaxScale mariadbmon monitor section does.
type Monitor struct {
	Name    string
	Module  string
	Servers []string
	// User and Password log the monitor in to each server.
	User     string
	Password string
	// Interval is the time between two checks of a server
	// (monitor_interval).
	Interval time.Duration
	// ConnectTimeout bounds each check, from connecting to the last reply
	// (backend_connect_timeout): a server that cannot answer within it is
	// as good as down to clients.
	ConnectTimeout time.Duration
}

// Listener accepts client connections for a service.
type Listener struct {
	Name    string
	Service string
	Address string
	Port    int
	// SSL makes the listener terminate client TLS with the certificate in
	// SSLCert and its key in SSLKey (PEM files), and refuse clients that do
	// not ask for TLS. SSLCA, if set, holds the CAs that client
	// certificates must be signed by.
	SSL                    bool
	SSLCert, SSLKey, SSLCA string
	// SSLVerifyPeerCertificate requires every client to present a
	// certificate signed by SSLCA (the system's CAs if empty), as if every
	// account had REQUIRE X509.
	SSLVerifyPeerCertificate bool
	// SSLVersions are the TLS versions allowed ("TLSv12", "TLSv13"); empty
	// allows TLS 1.2 and later.
	SSLVersions []string
}

// Topology is the static configuration the proxy and the API serve. It is
// immutable once loaded.
type Topology struct {
	Servers   []Server
	Services  []Service
	Listeners []Listener
	Monitors  []Monitor
}

// Service returns the named service.
func (t *Topology) Service(name string) (Service, error) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, nil
		}
	}
	return Service{}, Errorf(ENOTFOUND, "%s is not a service", name)
}

// Server returns the named server.
func (t *Topology) Server(name string) (Server, error) {
	for _, s := range t.Servers {
		if s.Name == name {
			return s, nil
		}
	}
	return Server{}, Errorf(ENOTFOUND, "%s is not a server", name)
}

// Listener returns the named listener.
func (t *Topology) Listener(name string) (Listener, error) {
	for _, l := range t.Listeners {
		if l.Name == name {
			return l, nil
		}
	}
	return Listener{}, Errorf(ENOTFOUND, "%s is not a listener", name)
}

// Monitor returns the named monitor.
func (t *Topology) Monitor(name string) (Monitor, error) {
	for _, m := range t.Monitors {
		if m.Name == name {
			return m, nil
		}
	}
	return Monitor{}, Errorf(ENOTFOUND, "%s is not a monitor", name)
}
