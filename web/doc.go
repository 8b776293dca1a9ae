// Package web renders Portico's dashboard pages on the server with templ.
// Handlers build view models from the registry; templates only format them.
package web
