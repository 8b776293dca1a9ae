// Package servers reads the servers resource (GET /v1/servers) for the
// dashboard's client: which state each server is in. Monitors change those
// states, not sessions, so the session stream does not carry them.
package servers

import (
	"errors"

	"github.com/portico-db/portico/wasm/jsonscan"
)

// States maps each server's id to its attributes.state ("Master, Running",
// "Down") from a /v1/servers document. Other members are skipped.
func States(doc string) (map[string]string, error) {
	states := map[string]string{}
	d := jsonscan.New(doc)
	top := d.Object(func(key string) {
		if key != "data" {
			return
		}
		d.Array(func() {
			var id, state string
			d.Object(func(key string) {
				switch key {
				case "id":
					id = d.String()
				case "attributes":
					d.Object(func(key string) {
						if key == "state" {
							state = d.String()
						}
					})
				}
			})
			if id != "" {
				states[id] = state
			}
		})
	})
	if err := d.Done(); err != nil {
		return nil, err
	}
	if !top {
		return nil, errors.New("servers: the document is not an object")
	}
	return states, nil
}
