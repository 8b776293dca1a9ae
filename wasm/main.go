//go:build js && wasm

// Command wasm is the dashboard's live client. It opens the session stream
// and keeps the server-rendered table current, rendering rows with the same
// sessionrow code the server used for the first paint.
//
// It talks to the browser only through syscall/js, using the browser's own
// WebSocket and JSON: net/http, fmt and encoding/json would each add hundreds
// of kilobytes to the download.
//
// The stream sends whole sessions in snapshots and added lists, and only the
// changed attributes in updates, so the client keeps each row's fields to
// merge updates into. Idle time is not streamed after a session is added: the
// client derives it once a second from last_activity and the server's time.
// After a disconnect it resumes from the last revision it applied.
package main

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/portico-db/portico/web/sessionrow"
)

const (
	minBackoffMS = 500
	maxBackoffMS = 15000
)

// rowState is what the client knows of one session.
type rowState struct {
	row sessionrow.Row
	// lastActivity is last_activity in Unix ms, NaN if the server sent none.
	lastActivity float64
	// idle and at are the idle seconds a whole resource carried and when it
	// arrived (local ms): the fallback without last_activity.
	idle, at float64
}

type client struct {
	doc     js.Value
	rows    js.Value // the <tbody>
	status  js.Value
	count   js.Value
	json    js.Value
	date    js.Value
	backoff int

	state map[string]*rowState
	// epoch and rev are the last revision applied, for resuming.
	epoch, rev string
	// serverTime is the last changes or bookmark frame's time (Unix ms) and
	// receivedAt when it arrived, local ms.
	serverTime, receivedAt float64

	// A snapshot may arrive in chunks; rows are gathered until the last one
	// so the table never shows half a snapshot.
	snapshot map[string]*rowState

	onOpen, onMessage, onClose, reconnect, tick js.Func
}

func main() {
	doc := js.Global().Get("document")
	c := &client{
		doc:     doc,
		rows:    doc.Call("getElementById", "session-rows"),
		status:  doc.Call("getElementById", "stream-status"),
		count:   doc.Call("getElementById", "session-count"),
		json:    js.Global().Get("JSON"),
		date:    js.Global().Get("Date"),
		backoff: minBackoffMS,
		state:   map[string]*rowState{},
	}
	if c.rows.IsNull() {
		return // not a page with a sessions table
	}
	c.onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		c.backoff = minBackoffMS
		return nil
	})
	c.onMessage = js.FuncOf(func(_ js.Value, args []js.Value) any {
		c.handle(c.json.Call("parse", args[0].Get("data")))
		return nil
	})
	c.onClose = js.FuncOf(func(js.Value, []js.Value) any {
		c.setStatus("reconnecting")
		c.snapshot = nil
		// Jitter spreads a restart's reconnects.
		wait := float64(c.backoff) * (0.5 + 0.5*js.Global().Get("Math").Call("random").Float())
		js.Global().Call("setTimeout", c.reconnect, wait)
		c.backoff = min(c.backoff*2, maxBackoffMS)
		return nil
	})
	c.reconnect = js.FuncOf(func(js.Value, []js.Value) any {
		c.connect()
		return nil
	})
	c.tick = js.FuncOf(func(js.Value, []js.Value) any {
		c.refreshIdle()
		return nil
	})
	js.Global().Call("setInterval", c.tick, 1000)
	c.connect()
	select {} // callbacks run on this program's goroutines
}

func (c *client) connect() {
	loc := js.Global().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	url := scheme + loc.Get("host").String() + "/v1/sessions/stream"
	if c.epoch != "" {
		url += "?since=" + c.epoch + ":" + c.rev
	}
	ws := js.Global().Get("WebSocket").New(url)
	ws.Call("addEventListener", "open", c.onOpen)
	ws.Call("addEventListener", "message", c.onMessage)
	ws.Call("addEventListener", "close", c.onClose)
}

func (c *client) setStatus(state string) {
	c.status.Call("setAttribute", "data-state", state)
	c.status.Set("textContent", state)
}

func (c *client) now() float64 { return c.date.Call("now").Float() }

func (c *client) handle(msg js.Value) {
	switch msg.Get("type").String() {
	case "snapshot":
		if c.snapshot == nil {
			c.snapshot = map[string]*rowState{}
		}
		data := msg.Get("data")
		var html []string
		for i := range data.Length() {
			st := c.whole(data.Index(i))
			c.snapshot[st.row.ID] = st
		}
		if msg.Get("more").Truthy() {
			return
		}
		c.state, c.snapshot = c.snapshot, nil
		ids := make([]string, 0, len(c.state))
		for id := range c.state {
			ids = append(ids, id)
		}
		sortIDs(ids)
		for _, id := range ids {
			html = append(html, c.state[id].row.HTML())
		}
		c.rows.Set("innerHTML", strings.Join(html, ""))
		c.epoch, c.rev = msg.Get("epoch").String(), msg.Get("rev").String()
		c.setStatus("live")
	case "changes":
		c.clock(msg)
		removed := msg.Get("removed")
		for i := range removed.Length() {
			id := removed.Index(i).String()
			delete(c.state, id)
			if el := c.row(id); !el.IsNull() {
				el.Call("remove")
			}
		}
		added := msg.Get("added")
		for i := range added.Length() {
			st := c.whole(added.Index(i))
			c.state[st.row.ID] = st
			c.insert(st.row)
		}
		updated := msg.Get("updated")
		for i := range updated.Length() {
			c.update(updated.Index(i))
		}
		c.epoch, c.rev = msg.Get("epoch").String(), msg.Get("rev").String()
		c.setStatus("live")
	case "bookmark":
		c.clock(msg)
		c.epoch, c.rev = msg.Get("epoch").String(), msg.Get("rev").String()
		c.setStatus("live")
	case "reset":
		// Start over: what we hold is no base to resume from.
		c.snapshot, c.epoch, c.rev = nil, "", ""
	}
	c.count.Set("textContent", strconv.Itoa(c.rows.Get("childElementCount").Int()))
}

// clock notes the server's time from a frame.
func (c *client) clock(msg js.Value) {
	if t := c.date.Call("parse", msg.Get("time")).Float(); !math.IsNaN(t) {
		c.serverTime, c.receivedAt = t, c.now()
	}
}

func (c *client) row(id string) js.Value {
	return c.doc.Call("getElementById", sessionrow.DOMID(id))
}

// insert keeps rows in id order, replacing the session's row if it has one
// (a resume resends sessions the client may hold). New sessions have the
// highest ids, so the scan from the end usually stops at once.
func (c *client) insert(r sessionrow.Row) {
	if old := c.row(r.ID); !old.IsNull() {
		old.Call("remove")
	}
	n, _ := strconv.ParseUint(r.ID, 10, 64)
	html := r.HTML()
	for el := c.rows.Get("lastElementChild"); !el.IsNull(); el = el.Get("previousElementSibling") {
		other, _ := strconv.ParseUint(el.Get("dataset").Get("sessionId").String(), 10, 64)
		if other < n {
			el.Call("insertAdjacentHTML", "afterend", html)
			return
		}
	}
	c.rows.Call("insertAdjacentHTML", "afterbegin", html)
}

// whole reads a whole session resource.
func (c *client) whole(res js.Value) *rowState {
	attrs := res.Get("attributes")
	st := &rowState{
		row: sessionrow.Row{
			ID:        res.Get("id").String(),
			User:      str(attrs.Get("user")),
			Remote:    str(attrs.Get("remote")),
			Service:   service(res),
			State:     str(attrs.Get("state")),
			Connected: str(attrs.Get("connected")),
		},
		lastActivity: c.parseTime(attrs.Get("last_activity")),
		at:           c.now(),
	}
	if idle := attrs.Get("idle"); idle.Type() == js.TypeNumber {
		st.idle = idle.Float()
	}
	st.row.Idle = formatIdle(st.idle)
	return st
}

// update merges an update's attributes into the session's row.
func (c *client) update(res js.Value) {
	st, ok := c.state[res.Get("id").String()]
	if !ok {
		return
	}
	attrs := res.Get("attributes")
	if attrs.Type() == js.TypeObject {
		for _, f := range []struct {
			name string
			dst  *string
		}{{"user", &st.row.User}, {"remote", &st.row.Remote}, {"state", &st.row.State}, {"connected", &st.row.Connected}} {
			if v := attrs.Get(f.name); !v.IsUndefined() {
				*f.dst = str(v) // null, for a removed attribute, reads as ""
			}
		}
		if v := attrs.Get("last_activity"); !v.IsUndefined() {
			st.lastActivity = c.parseTime(v)
		}
	}
	if rel := res.Get("relationships"); rel.Type() == js.TypeObject {
		st.row.Service = service(res)
	}
	st.row.Idle = formatIdle(c.idle(st))
	if el := c.row(st.row.ID); !el.IsNull() {
		el.Set("outerHTML", st.row.HTML())
	}
}

// idle is the session's idle seconds now.
func (c *client) idle(st *rowState) float64 {
	now := c.now()
	var d float64
	if !math.IsNaN(st.lastActivity) && c.serverTime > 0 {
		d = (c.serverTime + now - c.receivedAt - st.lastActivity) / 1000
	} else {
		d = st.idle + (now-st.at)/1000
	}
	return max(d, 0)
}

// refreshIdle rewrites the idle cells whose text changed.
func (c *client) refreshIdle() {
	for _, st := range c.state {
		idle := formatIdle(c.idle(st))
		if idle == st.row.Idle {
			continue
		}
		st.row.Idle = idle
		if el := c.row(st.row.ID); !el.IsNull() {
			if cell := el.Call("querySelector", `[data-testid="session-idle"]`); !cell.IsNull() {
				cell.Set("textContent", idle)
			}
		}
	}
}

func (c *client) parseTime(v js.Value) float64 {
	if v.Type() != js.TypeString {
		return math.NaN()
	}
	return c.date.Call("parse", v).Float()
}

// formatIdle prints seconds at MaxScale's 0.1 s resolution, rounding down.
func formatIdle(s float64) string {
	return strconv.FormatFloat(math.Floor(s*10)/10, 'f', 1, 64)
}

func str(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

func service(res js.Value) string {
	if data := res.Get("relationships").Get("services").Get("data"); data.Type() == js.TypeObject && data.Length() > 0 {
		return data.Index(0).Get("id").String()
	}
	return ""
}

// sortIDs sorts decimal ids numerically: shorter is smaller.
func sortIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}
