//go:build js && wasm

package main

import (
	"strconv"
	"syscall/js"

	"github.com/portico-db/portico/wasm/servers"
	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

// detailPage keeps a session's page live: it follows the session on the
// stream, refetches it whenever it changes, and sends log-level toggles and
// kills.
type detailPage struct {
	id     uint64
	root   js.Value
	detail sessionview.Detail
	loaded bool
	stream *stream
	kill   *killer
	// fetching and again coalesce refetches while one is in flight.
	fetching, again bool
}

func newDetailPage() *detailPage {
	root := byID("detail-root")
	id, _ := strconv.ParseUint(root.Get("dataset").Get("sessionId").String(), 10, 64)
	p := &detailPage{id: id, root: root, kill: newKiller()}
	ids := strconv.FormatUint(id, 10)
	p.stream = &stream{
		path:    sessionview.StreamPath(detailColumns) + "&filter%5Bid%5D=eq(%22" + ids + "%22)",
		tb:      table.New(detailColumns, sessionview.View{Sort: "id"}),
		status:  byID("stream-status"),
		backoff: minBackoffMS,
		onFrame: func(f table.Frame, complete bool) {
			if !complete {
				return
			}
			if slicesContains(f.Removed, id) || f.Type == "snapshot" && f.Rows == "" {
				p.gone()
				return
			}
			if f.Type == "snapshot" || f.Rows != "" || f.Updated != "" {
				p.refresh()
			}
		},
	}
	p.kill.onDone = func(id uint64, ttl string) { toast(killedMessage(id, ttl), false) }
	return p
}

// detailColumns are what the detail page shows: any change to them is a
// row update on the page's stream, which refetches the whole session.
var detailColumns = []string{"state", "user", "remote", "port", "database", "connected", "last_activity", "io_activity",
	"bytes_in", "bytes_out", "packets_in", "packets_out", "queries_total", "connections", "client", "queries",
	"last_statement", "parameters", "memory", "services"}

func slicesContains(list []uint64, id uint64) bool {
	for _, v := range list {
		if v == id {
			return true
		}
	}
	return false
}

func (p *detailPage) start() {
	on(doc, "click", func(ev js.Value) {
		if btn := ev.Get("target").Call("closest", "[data-kill]"); btn.Truthy() {
			p.kill.open(p.id, identity(p.detail.Session))
		}
	})
	on(p.root, "change", p.toggle)
	every(1000, func() {
		if p.loaded && !p.detail.Gone {
			p.render()
		}
	})
	p.stream.connect()
}

func (p *detailPage) refresh() {
	if p.fetching {
		p.again = true
		return
	}
	p.fetching = true
	fetchText("/v1/sessions/"+strconv.FormatUint(p.id, 10), "GET", "", func(status int, text string) {
		p.fetching = false
		switch {
		case status == 404:
			p.gone()
		case status == 200:
			if d, err := table.DecodeDetail(text); err == nil {
				p.detail, p.loaded = d, true
				p.render()
			}
		}
		if p.again {
			p.again = false
			p.refresh()
		}
	})
}

func (p *detailPage) gone() {
	p.detail.Gone = true
	if p.loaded {
		p.render()
	} else {
		p.root.Call("insertAdjacentHTML", "afterbegin", `<p class="gone" role="status" data-testid="detail-gone">This session has ended.</p>`)
	}
}

func (p *detailPage) render() {
	p.detail.Now = p.stream.tb.ServerNow(now())
	// Keep keyboard focus on a toggle across the redraw.
	focused := doc.Get("activeElement").Get("name").String()
	p.root.Set("innerHTML", p.detail.HTML())
	if focused != "" && focused != "<undefined>" {
		if el := p.root.Call("querySelector", `input[name="`+focused+`"]`); el.Truthy() {
			el.Call("focus")
		}
	}
}

// toggle sends a log-level checkbox change as a PATCH, and undoes the box
// if the server refuses.
func (p *detailPage) toggle(ev js.Value) {
	box := ev.Get("target")
	name := box.Get("name").String()
	on := box.Get("checked").Bool()
	body := `{"data":{"attributes":{"parameters":{"` + name + `":` + strconv.FormatBool(on) + `}}}}`
	fetchText("/v1/sessions/"+strconv.FormatUint(p.id, 10), "PATCH", body, func(status int, text string) {
		if status < 200 || status > 299 {
			box.Set("checked", !on)
			toast("Changing "+name+" failed. "+apiError(status, text), true)
			return
		}
		toast(name+" is now "+map[bool]string{true: "on", false: "off"}[on]+" for session "+strconv.FormatUint(p.id, 10)+".", false)
	})
}

// servicesPage keeps the services page's session counts and server states
// live.
type servicesPage struct {
	tb     *table.Table
	stream *stream
	cells  map[string]js.Value
}

func newServicesPage() *servicesPage {
	p := &servicesPage{tb: table.New([]string{"services"}, sessionview.View{Sort: "id"}), cells: map[string]js.Value{}}
	els := doc.Call("querySelectorAll", "[data-service-count]")
	for i := range els.Length() {
		el := els.Index(i)
		p.cells[el.Get("dataset").Get("serviceCount").String()] = el
	}
	p.stream = &stream{
		path:    sessionview.StreamPath([]string{"services"}),
		tb:      p.tb,
		status:  byID("stream-status"),
		backoff: minBackoffMS,
		onFrame: func(_ table.Frame, complete bool) {
			if !complete {
				return
			}
			counts := p.tb.ServiceCounts()
			for name, el := range p.cells {
				setText(el, strconv.Itoa(counts[name]))
			}
		},
	}
	return p
}

func (p *servicesPage) start() {
	p.stream.connect()
	after(serverPollMS, p.pollServers)
}

// serverPollMS is how often the services page asks for the servers'
// states: a monitor checks every 2 s by default.
const serverPollMS = 2000

// pollServers updates the server state badges from /v1/servers, then asks
// again; a failed request keeps the badges and tries again later.
func (p *servicesPage) pollServers() {
	fetchText("/v1/servers", "GET", "", func(status int, text string) {
		after(serverPollMS, p.pollServers)
		if status != 200 {
			return
		}
		states, err := servers.States(text)
		if err != nil {
			return
		}
		els := doc.Call("querySelectorAll", "[data-server]")
		for i := range els.Length() {
			el := els.Index(i)
			state, ok := states[el.Get("dataset").Get("server").String()]
			badge := el.Call("querySelector", `[data-testid="server-state"]`)
			if !ok || !badge.Truthy() {
				continue
			}
			setText(badge, state)
			class := "badge badge-up"
			if state == "Down" {
				class = "badge badge-down"
			}
			if badge.Get("className").String() != class {
				badge.Set("className", class)
			}
		}
	})
}
