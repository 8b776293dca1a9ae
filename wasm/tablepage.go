//go:build js && wasm

package main

import (
	"strconv"
	"strings"
	"syscall/js"

	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

// tablePage drives the sessions page.
type tablePage struct {
	tb     *table.Table
	screen table.Screen
	stream *stream
	kill   *killer

	scroller, rows, count, shown, note, chart, chartMax js.Value
	search, service, server, state, user, users         js.Value
	states                                              map[string]js.Value

	// live is set once the first snapshot is drawn: until then the
	// server's rows stay.
	live bool
	// dirty asks the next animation frame to redraw; scheduled says one
	// is requested.
	dirty, scheduled bool
	// expiring says a redraw is due for marks running out.
	expiring bool
	// rowCount is the number of rows the view shows.
	rowCount int
	drawFn   js.Func
	samples  []int
}

func newTablePage() *tablePage {
	view := sessionview.ParseView(func(name string) string {
		v := global.Get("URLSearchParams").New(global.Get("location").Get("search")).Call("get", name)
		if v.IsNull() {
			return ""
		}
		return v.String()
	})
	p := &tablePage{
		tb:       table.New(table.Columns, view),
		scroller: byID("sessions-scroller"), rows: byID("session-rows"),
		count: byID("session-count"), shown: byID("shown-count"), note: byID("table-note"),
		chart: byID("sessions-chart"), chartMax: byID("chart-max"),
		search: byID("search"), service: byID("filter-service"), server: byID("filter-server"),
		state: byID("filter-state"), user: byID("filter-user"), users: byID("known-users"),
		states: map[string]js.Value{},
	}
	for _, k := range sessionview.States {
		p.states[k] = byID("state-count-" + k)
	}
	// The server's history: the chart goes on from where it drew it.
	if p.chart.Truthy() {
		p.samples = sessionview.DecodeSamples(p.chart.Get("dataset").Get("history").String())
	}
	p.stream = &stream{
		path:    sessionview.StreamPath(table.Columns),
		tb:      p.tb,
		status:  byID("stream-status"),
		backoff: minBackoffMS,
		onFrame: func(_ table.Frame, complete bool) {
			if complete {
				p.invalidate()
			}
		},
	}
	p.kill = newKiller()
	p.kill.onDone = func(id uint64, ttl string) { toast(killedMessage(id, ttl), false) }
	p.drawFn = js.FuncOf(func(js.Value, []js.Value) any {
		p.scheduled = false
		p.draw()
		return nil
	})
	return p
}

func (p *tablePage) start() {
	on(p.scroller, "scroll", func(js.Value) { p.invalidate() })
	on(global, "resize", func(js.Value) { p.invalidate() })
	on(p.rows, "click", p.click)
	on(p.rows, "dblclick", func(ev js.Value) {
		if tr := ev.Get("target").Call("closest", "tr[data-session-id]"); tr.Truthy() && !ev.Get("target").Call("closest", "button, a").Truthy() {
			global.Get("location").Set("href", "/sessions/"+tr.Get("dataset").Get("sessionId").String())
		}
	})
	on(doc.Call("querySelector", "#sessions-table thead"), "click", p.sortClick)
	on(byID("filters"), "submit", func(ev js.Value) { ev.Call("preventDefault"); p.filtersChanged() })
	on(p.search, "input", func(js.Value) { p.filtersChanged() })
	on(p.user, "input", func(js.Value) { p.filtersChanged() })
	on(p.user, "focus", func(js.Value) { p.suggestUsers() })
	for _, sel := range []js.Value{p.service, p.server, p.state} {
		on(sel, "change", func(js.Value) { p.filtersChanged() })
	}
	on(doc, "keydown", p.key)
	every(1000, func() {
		p.sample()
		p.invalidate() // idle times and running statements tick
	})
	if !p.stream.adopt() {
		p.stream.connect()
	}
}

// invalidate asks for a redraw at the next animation frame.
func (p *tablePage) invalidate() {
	p.dirty = true
	if !p.scheduled && (p.live || p.tb.Epoch != "") {
		p.scheduled = true
		global.Call("requestAnimationFrame", p.drawFn)
	}
}

// draw renders the visible window of rows and the header's counts.
func (p *tablePage) draw() {
	if !p.dirty {
		return
	}
	p.dirty = false
	t := now()
	p.tb.Expire(t)
	n := p.tb.Rows(t)
	top := p.scroller.Get("scrollTop").Int()
	height := p.scroller.Get("clientHeight").Int()
	first := max(top/sessionview.RowHeight-overscan, 0)
	count := height/sessionview.RowHeight + 2*overscan + 1
	first = min(first, max(n-count, 0))
	ids, html := p.tb.Window(first, count, t)
	patch := p.screen.Update(ids, html, first*sessionview.RowHeight, max(n-first-count, 0)*sessionview.RowHeight)
	p.apply(patch)

	live := p.tb.Live()
	setText(p.count, strconv.Itoa(live))
	for k, el := range p.states {
		setText(el, strconv.Itoa(p.tb.Counts()[k]))
	}
	if p.tb.View().Filtered() {
		setText(p.shown, strconv.Itoa(n)+" of "+strconv.Itoa(live)+" shown")
	} else {
		setText(p.shown, strconv.Itoa(live)+" shown")
	}
	if n != p.rowCount {
		p.rowCount = n
		doc.Call("getElementById", "sessions-table").Call("setAttribute", "aria-rowcount", n+1)
	}
	if !p.live {
		p.live = true
		if p.note.Truthy() {
			p.note.Call("remove")
		}
		global.Get("performance").Call("mark", "portico:live")
		p.sample()
	}
	// Marks run out without any frame: come back to clear them.
	if p.tb.Marked() && !p.expiring {
		p.expiring = true
		after(250, func() { p.expiring = false; p.invalidate() })
	}
}

// apply makes the page show a patch: the whole body at once, or the rows
// and cells that changed.
func (p *tablePage) apply(patch table.Patch) {
	if patch.Full != "" {
		p.rows.Set("innerHTML", patch.Full)
		return
	}
	children := p.rows.Get("children")
	if patch.Top >= 0 {
		children.Index(0).Get("firstElementChild").Get("style").Set("height", strconv.Itoa(patch.Top)+"px")
	}
	if patch.Bottom >= 0 {
		children.Index(children.Length()-1).Get("firstElementChild").Get("style").Set("height", strconv.Itoa(patch.Bottom)+"px")
	}
	for _, r := range patch.Rows {
		tr := children.Index(r.Index + 1)
		if r.Cells == nil && r.HTML != "" {
			tr.Set("outerHTML", r.HTML)
			continue
		}
		if tr.Get("className").String() != r.Class {
			tr.Set("className", r.Class)
		}
		if r.Selected {
			tr.Call("setAttribute", "aria-selected", "true")
		} else {
			tr.Call("removeAttribute", "aria-selected")
		}
		cells := tr.Get("children")
		for _, c := range r.Cells {
			cells.Index(c.Index).Set("outerHTML", c.HTML)
		}
	}
	for _, r := range patch.Idle {
		if cell := children.Index(r.Index+1).Call("querySelector", `[data-testid="session-idle"]`); cell.Truthy() {
			cell.Set("textContent", r.HTML)
		}
	}
}

func (p *tablePage) click(ev js.Value) {
	target := ev.Get("target")
	if btn := target.Call("closest", "[data-kill]"); btn.Truthy() {
		id, _ := strconv.ParseUint(btn.Get("dataset").Get("kill").String(), 10, 64)
		p.openKill(id)
		return
	}
	if tr := target.Call("closest", "tr[data-session-id]"); tr.Truthy() {
		id, _ := strconv.ParseUint(tr.Get("dataset").Get("sessionId").String(), 10, 64)
		p.tb.Selected = id
		p.invalidate()
	}
}

func (p *tablePage) openKill(id uint64) {
	s, ok := p.tb.Session(id)
	if !ok {
		toast("Session "+strconv.FormatUint(id, 10)+" has already ended.", true)
		return
	}
	p.kill.open(id, identity(s))
}

func (p *tablePage) sortClick(ev js.Value) {
	a := ev.Get("target").Call("closest", "a[data-sort]")
	if !a.Truthy() {
		return
	}
	ev.Call("preventDefault")
	key := a.Get("dataset").Get("sort").String()
	v := p.tb.View()
	if v.Sort == key {
		v.Desc = !v.Desc
	} else {
		v.Sort, v.Desc = key, a.Call("hasAttribute", "data-numeric").Bool() && key != "id"
	}
	p.setView(v)
}

func (p *tablePage) filtersChanged() {
	v := p.tb.View()
	v.Query = strings.TrimSpace(p.search.Get("value").String())
	v.Service = p.service.Get("value").String()
	v.Server = p.server.Get("value").String()
	v.State = p.state.Get("value").String()
	v.User = strings.TrimSpace(p.user.Get("value").String())
	p.setView(v)
}

// setView applies a new sort or filter and puts it in the URL, so the view
// can be shared and survives a reload.
func (p *tablePage) setView(v sessionview.View) {
	p.tb.SetView(v)
	url := "/" + v.Encode()
	global.Get("history").Call("replaceState", nil, "", url)
	ths := doc.Call("querySelectorAll", "#sessions-table thead th[data-sort-key]")
	for i := range ths.Length() {
		th := ths.Index(i)
		key := th.Get("dataset").Get("sortKey").String()
		sort := "none"
		if key == v.Sort {
			sort = "ascending"
			if v.Desc {
				sort = "descending"
			}
		}
		th.Call("setAttribute", "aria-sort", sort)
	}
	if hidden := byID("filter-sort"); hidden.Truthy() {
		hidden.Set("value", v.Param("sort"))
	}
	p.scroller.Set("scrollTop", 0)
	p.invalidate()
}

func (p *tablePage) suggestUsers() {
	var b strings.Builder
	for _, u := range p.tb.Users() {
		b.WriteString(`<option value="`)
		b.WriteString(strings.NewReplacer(`&`, "&amp;", `"`, "&#34;", `<`, "&lt;").Replace(u))
		b.WriteString(`">`)
	}
	p.users.Set("innerHTML", b.String())
}

// key is the page's keyboard: / searches, arrows move the selection, Enter
// opens it, Delete or k offers to kill it.
func (p *tablePage) key(ev js.Value) {
	if p.kill.dialog.Truthy() && p.kill.dialog.Get("open").Truthy() {
		return
	}
	k := ev.Get("key").String()
	tag := ev.Get("target").Get("tagName").String()
	typing := tag == "INPUT" || tag == "SELECT" || tag == "TEXTAREA"
	if ev.Get("ctrlKey").Truthy() || ev.Get("metaKey").Truthy() || ev.Get("altKey").Truthy() {
		return
	}
	switch {
	case k == "/" && !typing:
		ev.Call("preventDefault")
		p.search.Call("focus")
		p.search.Call("select")
	case k == "Escape" && typing:
		// Escape in the search box clears it, as the browser does with a
		// search field, but through the view so the table follows; in
		// any other field, or an empty search box, it leaves the field.
		if t := ev.Get("target"); t.Equal(p.search) && p.search.Get("value").String() != "" {
			ev.Call("preventDefault")
			p.search.Set("value", "")
			p.filtersChanged()
		} else {
			t.Call("blur")
		}
	case k == "ArrowDown" || k == "ArrowUp":
		if typing && tag != "INPUT" {
			return
		}
		ev.Call("preventDefault")
		if typing {
			ev.Get("target").Call("blur")
		}
		p.move(map[bool]int{true: 1, false: -1}[k == "ArrowDown"])
	case (k == "PageDown" || k == "PageUp") && !typing:
		ev.Call("preventDefault")
		step := max(p.scroller.Get("clientHeight").Int()/sessionview.RowHeight-1, 1)
		if k == "PageUp" {
			step = -step
		}
		p.move(step)
	case k == "Enter" && !typing && p.tb.Selected != 0:
		if _, ok := p.tb.Session(p.tb.Selected); ok {
			global.Get("location").Set("href", sessionview.DetailURL(p.tb.Selected))
		}
	case (k == "Delete" || k == "k") && !typing && p.tb.Selected != 0:
		ev.Call("preventDefault")
		p.openKill(p.tb.Selected)
	}
}

// move shifts the selection by delta rows and scrolls it into view.
func (p *tablePage) move(delta int) {
	n := p.tb.Rows(now())
	if n == 0 {
		return
	}
	i := p.tb.Index(p.tb.Selected)
	if i < 0 {
		i = max(p.scroller.Get("scrollTop").Int()/sessionview.RowHeight, 0)
		if delta > 0 {
			delta--
		} else {
			delta++
		}
	}
	i = min(max(i+delta, 0), n-1)
	p.tb.Selected = p.tb.ID(i)
	// Keep the row clear of the sticky header.
	head := doc.Call("querySelector", "#sessions-table thead").Get("offsetHeight").Int()
	rowTop := i*sessionview.RowHeight + head
	top := p.scroller.Get("scrollTop").Int()
	height := p.scroller.Get("clientHeight").Int()
	if rowTop-head < top {
		p.scroller.Set("scrollTop", rowTop-head)
	} else if rowTop+sessionview.RowHeight > top+height {
		p.scroller.Set("scrollTop", rowTop+sessionview.RowHeight-height)
	}
	p.invalidate()
}

// sample records the session count once a second and redraws the chart.
func (p *tablePage) sample() {
	if !p.live || !p.chart.Truthy() {
		return
	}
	p.samples = append(p.samples, p.tb.Live())
	if len(p.samples) > sessionview.ChartWidth {
		p.samples = p.samples[len(p.samples)-sessionview.ChartWidth:]
	}
	c := sessionview.Chart{Samples: p.samples}
	p.chart.Set("innerHTML", c.HTML())
	setText(p.chartMax, "max "+strconv.Itoa(c.Max()))
}
