//go:build js && wasm

// Command wasm is the dashboard's live client. It opens the session stream
// and keeps the server-rendered table current, rendering rows with the same
// sessionrow code the server used for the first paint.
//
// It talks to the browser only through syscall/js, using the browser's own
// WebSocket and JSON: net/http, fmt and encoding/json would each add hundreds
// of kilobytes to the download.
package main

import (
	"strconv"
	"strings"
	"syscall/js"

	"github.com/portico-db/portico/web/sessionrow"
)

const (
	minBackoffMS = 500
	maxBackoffMS = 15000
)

type client struct {
	doc     js.Value
	rows    js.Value // the <tbody>
	status  js.Value
	count   js.Value
	json    js.Value
	backoff int

	// A snapshot may arrive in chunks; rows are gathered until the last one
	// so the table never shows half a snapshot.
	snapshot []string

	onOpen, onMessage, onClose, reconnect js.Func
}

func main() {
	doc := js.Global().Get("document")
	c := &client{
		doc:     doc,
		rows:    doc.Call("getElementById", "session-rows"),
		status:  doc.Call("getElementById", "stream-status"),
		count:   doc.Call("getElementById", "session-count"),
		json:    js.Global().Get("JSON"),
		backoff: minBackoffMS,
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
		js.Global().Call("setTimeout", c.reconnect, c.backoff)
		c.backoff = min(c.backoff*2, maxBackoffMS)
		return nil
	})
	c.reconnect = js.FuncOf(func(js.Value, []js.Value) any {
		c.connect()
		return nil
	})
	c.connect()
	select {} // callbacks run on this program's goroutines
}

func (c *client) connect() {
	loc := js.Global().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	ws := js.Global().Get("WebSocket").New(scheme + loc.Get("host").String() + "/v1/sessions/stream")
	ws.Call("addEventListener", "open", c.onOpen)
	ws.Call("addEventListener", "message", c.onMessage)
	ws.Call("addEventListener", "close", c.onClose)
}

func (c *client) setStatus(state string) {
	c.status.Call("setAttribute", "data-state", state)
	c.status.Set("textContent", state)
}

func (c *client) handle(msg js.Value) {
	switch msg.Get("type").String() {
	case "snapshot":
		data := msg.Get("data")
		for i := range data.Length() {
			c.snapshot = append(c.snapshot, rowOf(data.Index(i)).HTML())
		}
		if msg.Get("more").Truthy() {
			return
		}
		c.rows.Set("innerHTML", strings.Join(c.snapshot, ""))
		c.snapshot = c.snapshot[:0]
		c.setStatus("live")
	case "changes":
		removed := msg.Get("removed")
		for i := range removed.Length() {
			if el := c.row(removed.Index(i).String()); !el.IsNull() {
				el.Call("remove")
			}
		}
		added := msg.Get("added")
		for i := range added.Length() {
			c.insert(added.Index(i))
		}
		updated := msg.Get("updated")
		for i := range updated.Length() {
			res := updated.Index(i)
			if el := c.row(res.Get("id").String()); !el.IsNull() {
				el.Set("outerHTML", rowOf(res).HTML())
			}
		}
	case "reset":
		c.snapshot = c.snapshot[:0]
	}
	c.count.Set("textContent", strconv.Itoa(c.rows.Get("childElementCount").Int()))
}

func (c *client) row(id string) js.Value {
	return c.doc.Call("getElementById", sessionrow.DOMID(id))
}

// insert keeps rows in id order. New sessions have the highest ids, so the
// scan from the end usually stops at once.
func (c *client) insert(res js.Value) {
	id := res.Get("id").String()
	if old := c.row(id); !old.IsNull() {
		old.Call("remove")
	}
	n, _ := strconv.ParseUint(id, 10, 64)
	html := rowOf(res).HTML()
	for el := c.rows.Get("lastElementChild"); !el.IsNull(); el = el.Get("previousElementSibling") {
		other, _ := strconv.ParseUint(el.Get("dataset").Get("sessionId").String(), 10, 64)
		if other < n {
			el.Call("insertAdjacentHTML", "afterend", html)
			return
		}
	}
	c.rows.Call("insertAdjacentHTML", "afterbegin", html)
}

// rowOf maps a JSON:API session resource to the shared row view model.
func rowOf(res js.Value) sessionrow.Row {
	attrs := res.Get("attributes")
	service := ""
	if data := res.Get("relationships").Get("services").Get("data"); data.Length() > 0 {
		service = data.Index(0).Get("id").String()
	}
	return sessionrow.Row{
		ID:        res.Get("id").String(),
		User:      attrs.Get("user").String(),
		Remote:    attrs.Get("remote").String(),
		Service:   service,
		State:     attrs.Get("state").String(),
		Connected: attrs.Get("connected").String(),
		Idle:      strconv.FormatFloat(attrs.Get("idle").Float(), 'f', 1, 64),
	}
}
