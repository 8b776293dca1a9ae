// Package core is Portico's domain: the sessions that flow through the proxy,
// the services and servers that route them, and the registry that keeps the
// live set and tells subscribers what changed.
//
// It imports only the standard library so that every adapter (the wire
// protocol proxy, the HTTP API, the pages) can depend on it without depending
// on each other.
package core
