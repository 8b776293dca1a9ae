//go:build js && wasm

// Command wasm is the dashboard's live client. The server renders every page
// complete; this client then keeps it live from the session stream: the
// sessions table (virtually scrolled, sorted and filtered in the browser),
// the header's counts and chart, a session's detail page and the services
// page's counts.
//
// It talks to the browser only through syscall/js and the browser's own
// WebSocket, JSON and fetch. The stream is asked for its rows format: each
// session is one string of its fields, so a frame costs one JSON.parse, one
// join of its rows and one copy into Go, however many sessions it holds
// (JSON.parse plus a js.Value Get per field costs about 100 ms at 10,000
// sessions, and Go's own per-byte parsing in WASM is slower still). Rows are
// decoded only when shown, sorted or filtered on. net/http, fmt and
// encoding/json would each add hundreds of kilobytes to the download.
//
// Drawing happens in requestAnimationFrame, at most once a frame: the
// visible window of rows is written with one innerHTML, so the cost of a
// frame does not grow with the number of sessions.
package main

import (
	"strconv"
	"strings"
	"syscall/js"

	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

const (
	minBackoffMS = 500
	maxBackoffMS = 15000
	// overscan rows are drawn above and below the visible ones, so a
	// quick scroll does not show blank space before the next frame.
	overscan = 8
)

var (
	global = js.Global()
	doc    = global.Get("document")
)

func main() {
	global.Get("performance").Call("mark", "portico:wasm-start")
	switch {
	case byID("session-rows").Truthy():
		newTablePage().start()
	case byID("detail-root").Truthy():
		newDetailPage().start()
	case byID("services-table").Truthy():
		newServicesPage().start()
	default:
		return
	}
	select {} // callbacks run on this program's goroutines
}

func byID(id string) js.Value { return doc.Call("getElementById", id) }

func now() int64 { return int64(global.Get("Date").Call("now").Float()) }

// on adds an event listener that lives as long as the page.
func on(target js.Value, event string, fn func(ev js.Value)) {
	target.Call("addEventListener", event, js.FuncOf(func(_ js.Value, args []js.Value) any {
		fn(args[0])
		return nil
	}))
}

// after runs fn once after ms milliseconds.
func after(ms int, fn func()) {
	var f js.Func
	f = js.FuncOf(func(js.Value, []js.Value) any {
		f.Release()
		fn()
		return nil
	})
	global.Call("setTimeout", f, ms)
}

func every(ms int, fn func()) {
	global.Call("setInterval", js.FuncOf(func(js.Value, []js.Value) any {
		fn()
		return nil
	}), ms)
}

func setText(el js.Value, text string) {
	if el.Truthy() && el.Get("textContent").String() != text {
		el.Set("textContent", text)
	}
}

// stream keeps a session stream open, reconnecting with jittered
// exponential backoff and resuming from the last revision applied.
type stream struct {
	path    string // path and query, without since
	tb      *table.Table
	status  js.Value
	backoff int
	// onFrame runs after each frame is applied; complete says the frame
	// left the table whole.
	onFrame func(f table.Frame, complete bool)
}

func (s *stream) connect() {
	loc := global.Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	url := scheme + loc.Get("host").String() + s.path
	if s.tb.Epoch != "" {
		url += "&since=" + s.tb.Epoch + ":" + s.tb.Rev
	}
	s.attach(global.Get("WebSocket").New(url), js.Undefined())
}

// adopt takes over the stream the page's loader opened before the client
// started (static/boot.js), with the frames that have arrived on it, if it
// opened the stream this client wants. It reports whether it did.
func (s *stream) adopt() bool {
	early := global.Get("porticoEarly")
	if !early.Truthy() || early.Get("path").String() != s.path {
		return false
	}
	global.Set("porticoEarly", js.Undefined())
	early.Set("onFrame", js.FuncOf(func(js.Value, []js.Value) any { return nil }))
	s.attach(early.Get("ws"), early)
	return true
}

// attach listens to ws. early, when set, holds frames that arrived before,
// and whether the socket has opened or closed already.
func (s *stream) attach(ws js.Value, early js.Value) {
	var onOpen, onMessage, onClose js.Func
	onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		s.backoff = minBackoffMS
		return nil
	})
	onMessage = js.FuncOf(func(_ js.Value, args []js.Value) any {
		f, ok := decodeFrame(args[0].Get("data"))
		if !ok {
			return nil
		}
		complete := s.tb.Apply(f, now())
		if complete {
			s.setStatus("live")
		}
		s.onFrame(f, complete)
		return nil
	})
	onClose = js.FuncOf(func(js.Value, []js.Value) any {
		onOpen.Release()
		onMessage.Release()
		onClose.Release()
		s.tb.Disconnected()
		s.setStatus("reconnecting")
		// Jitter spreads a restart's reconnects.
		wait := float64(s.backoff) * (0.5 + 0.5*global.Get("Math").Call("random").Float())
		after(int(wait), s.connect)
		s.backoff = min(s.backoff*2, maxBackoffMS)
		return nil
	})
	ws.Call("addEventListener", "open", onOpen)
	ws.Call("addEventListener", "message", onMessage)
	ws.Call("addEventListener", "close", onClose)
	if early.IsUndefined() || early.IsNull() {
		return
	}
	frames := early.Get("frames")
	for i := range frames.Length() {
		onMessage.Invoke(map[string]any{"data": frames.Index(i)})
	}
	if early.Get("closed").Truthy() {
		onClose.Invoke()
	}
}

// decodeFrame reads a rows-format frame with the browser's JSON parser.
func decodeFrame(text js.Value) (f table.Frame, ok bool) {
	defer func() {
		if r := recover(); r != nil { // JSON.parse threw
			global.Get("console").Call("error", "portico: bad stream frame")
			ok = false
		}
	}()
	msg := global.Get("JSON").Call("parse", text)
	str := func(name string) string {
		if v := msg.Get(name); v.Type() == js.TypeString {
			return v.String()
		}
		return ""
	}
	rows := func(name string) string {
		if v := msg.Get(name); v.Truthy() && v.Length() > 0 {
			return v.Call("join", "\x1e").String()
		}
		return ""
	}
	f = table.Frame{Type: str("type"), Epoch: str("epoch"), Rev: str("rev"), Reason: str("reason"), More: msg.Get("more").Truthy()}
	if t := str("time"); t != "" {
		f.Time = int64(global.Get("Date").Call("parse", t).Float())
	}
	if f.Type == "snapshot" {
		f.Rows = rows("data")
	} else {
		f.Rows, f.Updated = rows("added"), rows("updated")
	}
	if removed := msg.Get("removed"); removed.Truthy() && removed.Length() > 0 {
		for _, id := range strings.Split(removed.Call("join", ",").String(), ",") {
			if n, err := strconv.ParseUint(id, 10, 64); err == nil {
				f.Removed = append(f.Removed, n)
			}
		}
	}
	return f, true
}

func (s *stream) setStatus(state string) {
	if s.status.Get("dataset").Get("state").String() == state {
		return
	}
	s.status.Get("dataset").Set("state", state)
	s.status.Set("textContent", state)
}

// fetchText calls fetch and hands fn the status and body text, or status 0
// and the error's message if the request failed.
func fetchText(url, method, body string, fn func(status int, text string)) {
	init := map[string]any{
		"method":      method,
		"credentials": "same-origin",
		"headers":     map[string]any{"X-Requested-With": "XMLHttpRequest", "Content-Type": "application/json"},
	}
	if body != "" {
		init["body"] = body
	}
	var then, fail js.Func
	release := func() { then.Release(); fail.Release() }
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		release()
		fn(0, args[0].Call("toString").String())
		return nil
	})
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resp := args[0]
		status := resp.Get("status").Int()
		var got js.Func
		got = js.FuncOf(func(_ js.Value, args []js.Value) any {
			got.Release()
			release()
			fn(status, args[0].String())
			return nil
		})
		resp.Call("text").Call("then", got, fail)
		return nil
	})
	global.Call("fetch", url, init).Call("then", then, fail)
}

// apiError is the detail of a JSON:API error document, for showing.
func apiError(status int, text string) string {
	if status == 0 {
		return "Portico could not be reached: " + text
	}
	msg := "HTTP " + strconv.Itoa(status)
	defer func() { _ = recover() }() // a body that is not JSON keeps msg
	doc := global.Get("JSON").Call("parse", text)
	if errs := doc.Get("errors"); errs.Truthy() && errs.Length() > 0 {
		msg += ": " + errs.Index(0).Get("detail").String()
	}
	return msg
}

// toast shows a short message at the bottom of the page.
func toast(text string, isError bool) {
	el := byID("toast")
	if !el.Truthy() {
		return
	}
	el.Set("textContent", text)
	el.Get("classList").Call("toggle", "error", isError)
	el.Set("hidden", false)
	shown := text
	after(5000, func() {
		if el.Get("textContent").String() == shown {
			el.Set("hidden", true)
		}
	})
}

// killer runs the kill dialog: it asks, sends DELETE, and reports.
type killer struct {
	dialog, id, identity, errBox, ttl, confirm js.Value
	target                                     uint64
	// onDone runs after a successful kill.
	onDone func(id uint64, ttl string)
}

func newKiller() *killer {
	k := &killer{dialog: byID("kill-dialog"), id: byID("kill-id"), identity: byID("kill-identity"),
		errBox: byID("kill-error"), ttl: byID("kill-ttl-seconds"), confirm: byID("kill-confirm")}
	if !k.dialog.Truthy() {
		return k
	}
	on(byID("kill-cancel"), "click", func(js.Value) { k.dialog.Call("close") })
	on(k.confirm, "click", func(js.Value) { k.send() })
	on(k.ttl, "focus", func(js.Value) {
		k.dialog.Call("querySelector", `[data-testid="kill-ttl"]`).Set("checked", true)
	})
	return k
}

func (k *killer) open(id uint64, identity string) {
	if !k.dialog.Truthy() {
		return
	}
	k.target = id
	setText(k.id, strconv.FormatUint(id, 10))
	setText(k.identity, identity)
	k.errBox.Set("hidden", true)
	k.confirm.Set("disabled", false)
	k.dialog.Call("querySelector", `[data-testid="kill-now"]`).Set("checked", true)
	k.dialog.Call("showModal")
	k.confirm.Call("focus")
}

func (k *killer) send() {
	id := k.target
	url := "/v1/sessions/" + strconv.FormatUint(id, 10)
	ttl := ""
	if k.dialog.Call("querySelector", `[data-testid="kill-ttl"]`).Get("checked").Bool() {
		ttl = strings.TrimSpace(k.ttl.Get("value").String())
		if n, err := strconv.Atoi(ttl); err != nil || n < 1 {
			k.showError("Enter a whole number of seconds, 1 or more.")
			return
		}
		url += "?ttl=" + ttl
	}
	k.confirm.Set("disabled", true)
	fetchText(url, "DELETE", "", func(status int, text string) {
		k.confirm.Set("disabled", false)
		if status < 200 || status > 299 {
			k.showError("The kill failed. " + apiError(status, text))
			return
		}
		k.dialog.Call("close")
		if k.onDone != nil {
			k.onDone(id, ttl)
		}
	})
}

func (k *killer) showError(msg string) {
	k.errBox.Set("textContent", msg)
	k.errBox.Set("hidden", false)
}

func identity(s sessionview.Session) string {
	var b strings.Builder
	b.WriteString(s.User)
	b.WriteString("@")
	b.WriteString(s.Remote)
	b.WriteString(" on ")
	b.WriteString(s.Service)
	if s.Server != "" {
		b.WriteString(" (" + s.Server + " #" + strconv.FormatUint(uint64(s.ServerConn), 10) + ")")
	}
	if s.Statement != "" {
		st := s.Statement
		if len(st) > 120 {
			st = st[:120] + "…"
		}
		b.WriteString(" — ")
		b.WriteString(st)
	}
	return b.String()
}

func killedMessage(id uint64, ttl string) string {
	if ttl != "" {
		return "Session " + strconv.FormatUint(id, 10) + " will be killed after " + ttl + " s idle."
	}
	return "Session " + strconv.FormatUint(id, 10) + " killed."
}
