package server_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
)

// headers adds request headers on top of admin credentials.
func headers(kv ...string) auth {
	return func(r *http.Request) {
		admin(r)
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
	}
}

type collectionDoc struct {
	Links map[string]string `json:"links"`
	Data  []struct {
		ID         string                     `json:"id"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	} `json:"data"`
	Meta *struct {
		Total int `json:"total"`
	} `json:"meta"`
}

func decodeCollection(t *testing.T, res response) collectionDoc {
	t.Helper()
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var doc collectionDoc
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatalf("decode %s: %v", res.body, err)
	}
	return doc
}

func (d collectionDoc) ids() []string {
	var ids []string
	for _, r := range d.Data {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestMaxScaleClientBehaviour pins the status codes and shapes that MaxCtrl,
// MaxGUI and monitoring scripts depend on.
func TestMaxScaleClientBehaviour(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)

	tests := []struct {
		name, method, path string
		a                  auth
		status             int
		check              func(t *testing.T, res response)
	}{
		{"health check needs no auth", "GET", "/v1/", noAuth, 200, nil},
		{"no /v1 prefix", "GET", "/sessions", admin, 200, func(t *testing.T, res response) {
			if d := decodeCollection(t, res); d.Links["self"] != "http://"+seedHost+"/sessions/" {
				t.Errorf("self = %q: /v1 must appear only when the request used it", d.Links["self"])
			}
		}},
		{"trailing slash on a resource", "GET", "/v1/sessions/9/", admin, 200, nil},
		{"HEAD has headers and no body", "HEAD", "/v1/sessions", admin, 200, func(t *testing.T, res response) {
			if len(res.body) != 0 || res.header.Get("ETag") == "" {
				t.Errorf("body %q, ETag %q", res.body, res.header.Get("ETag"))
			}
		}},
		{"OPTIONS lists allowed methods", "OPTIONS", "/v1/sessions/9", admin, 200, func(t *testing.T, res response) {
			allow := strings.Split(res.header.Get("Allow"), ", ")
			for _, m := range []string{"GET", "HEAD", "DELETE", "OPTIONS"} {
				if !slices.Contains(allow, m) {
					t.Errorf("Allow = %v lacks %s", allow, m)
				}
			}
		}},
		{"security headers", "GET", "/v1/sessions", admin, 200, func(t *testing.T, res response) {
			for k, v := range map[string]string{"Cache-Control": "no-cache", "X-Frame-Options": "Deny", "Referrer-Policy": "same-origin"} {
				if got := res.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if res.header.Get("Date") == "" || res.header.Get("Last-Modified") == "" {
				t.Error("missing Date or Last-Modified")
			}
		}},
		{"pretty by default", "GET", "/v1/sessions/9", admin, 200, func(t *testing.T, res response) {
			if !bytes.Contains(res.body, []byte("\n    \"data\"")) {
				t.Errorf("not indented by 4: %s", res.body)
			}
		}},
		{"pretty=false is compact", "GET", "/v1/sessions/9?pretty=false", admin, 200, func(t *testing.T, res response) {
			if bytes.Contains(res.body, []byte("\n")) {
				t.Errorf("not compact: %s", res.body)
			}
		}},
		{"bad pretty", "GET", "/v1/sessions?pretty=maybe", admin, 400, nil},
		{"filter by equality", "GET", "/v1/sessions?filter=" + url.QueryEscape(`/attributes/user="maxuser"`), admin, 200, func(t *testing.T, res response) {
			if ids := decodeCollection(t, res).ids(); !slices.Equal(ids, []string{"9"}) {
				t.Errorf("ids = %v, want [9]", ids)
			}
		}},
		{"filter with operators", "GET", "/v1/sessions?filter=" + url.QueryEscape(`/attributes/idle=and(ge(0),not(eq(-1)))`), admin, 200, func(t *testing.T, res response) {
			if ids := decodeCollection(t, res).ids(); !slices.Equal(ids, []string{"9", "10"}) {
				t.Errorf("ids = %v, want [9 10]", ids)
			}
		}},
		{"filter on a json path", "GET", "/v1/sessions?" + url.QueryEscape("filter[$.relationships.services.data[*].id]") + "=" + url.QueryEscape(`"RW-Split-Router"`), admin, 200, func(t *testing.T, res response) {
			if ids := decodeCollection(t, res).ids(); len(ids) != 2 {
				t.Errorf("ids = %v, want both", ids)
			}
		}},
		{"malformed filter says where", "GET", "/v1/sessions?filter=" + url.QueryEscape(`/id=eq(1`), admin, 400, func(t *testing.T, res response) {
			if !bytes.Contains(res.body, []byte("offset")) {
				t.Errorf("detail does not say where parsing failed: %s", res.body)
			}
		}},
		{"sparse fieldset", "GET", "/v1/sessions?fields%5Bsessions%5D=state", admin, 200, func(t *testing.T, res response) {
			for _, r := range decodeCollection(t, res).Data {
				if len(r.Attributes) != 1 || r.Attributes["state"] == nil {
					t.Errorf("attributes = %v, want only state", r.Attributes)
				}
			}
		}},
		{"first page", "GET", "/v1/sessions?page%5Bsize%5D=1&page%5Bnumber%5D=0", admin, 200, func(t *testing.T, res response) {
			d := decodeCollection(t, res)
			if ids := d.ids(); !slices.Equal(ids, []string{"9"}) || d.Meta == nil || d.Meta.Total != 2 {
				t.Fatalf("ids = %v, meta = %+v", ids, d.Meta)
			}
			if d.Links["next"] == "" || d.Links["prev"] != "" || d.Links["first"] == "" || d.Links["last"] == "" {
				t.Errorf("links = %v", d.Links)
			}
		}},
		{"last page", "GET", "/v1/sessions?page%5Bsize%5D=1&page%5Bnumber%5D=1", admin, 200, func(t *testing.T, res response) {
			d := decodeCollection(t, res)
			if ids := d.ids(); !slices.Equal(ids, []string{"10"}) || d.Links["next"] != "" || d.Links["prev"] == "" {
				t.Errorf("ids = %v, links = %v", ids, d.Links)
			}
		}},
		{"bad page size", "GET", "/v1/sessions?page%5Bsize%5D=x", admin, 400, nil},
		{"bad ttl", "DELETE", "/v1/sessions/9?ttl=soon", admin, 400, func(t *testing.T, res response) {
			if !bytes.Contains(res.body, []byte("ttl")) {
				t.Errorf("detail does not name ttl: %s", res.body)
			}
		}},
		{"delete unknown", "DELETE", "/v1/sessions/99", admin, 404, nil},
		{"stale If-Match fails before the kill", "DELETE", "/v1/sessions/9", headers("If-Match", `"stale"`), 412, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.method, seedHost, tt.path, tt.a)
			if res.status != tt.status {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, res.status, tt.status, res.body)
			}
			if tt.status >= 400 && tt.method != "HEAD" {
				var doc struct{ Errors []struct{ Detail string } }
				if err := json.Unmarshal(res.body, &doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Detail == "" {
					t.Errorf("error body %s is not a JSON:API error", res.body)
				}
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
	if s, err := f.reg.Get(9); err != nil || s.State != core.StateReady {
		t.Fatalf("a failed precondition or bad request touched session 9: %+v %v", s, err)
	}
}

func TestConditionalGet(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)
	first := f.get(t, seedHost, "/v1/sessions/9", admin)
	etag, modified := first.header.Get("ETag"), first.header.Get("Last-Modified")
	tests := []struct {
		name   string
		a      auth
		status int
	}{
		{"matching etag", headers("If-None-Match", etag), 304},
		{"etag in a list", headers("If-None-Match", `"other", `+etag), 304},
		{"other etag", headers("If-None-Match", `"other"`), 200},
		{"not modified since", headers("If-Modified-Since", modified), 304},
		{"modified since long ago", headers("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.get(t, seedHost, "/v1/sessions/9", tt.a); res.status != tt.status {
				t.Fatalf("status = %d, want %d", res.status, tt.status)
			}
		})
	}
}

func TestDeleteSessionKills(t *testing.T) {
	tests := []struct {
		name string
		path string
		a    auth
	}{
		{"now", "/v1/sessions/9", admin},
		{"via method override", "/v1/sessions/9", headers("X-HTTP-Method-Override", "DELETE")},
		{"with ttl once idle", "/v1/sessions/9?ttl=1", admin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			nine, _ := f.openSeed(t)
			killed := make(chan struct{})
			nine.OnKill(func() { close(killed); nine.Close() })
			method := "DELETE"
			if strings.Contains(tt.name, "override") {
				method = "POST"
			}
			// The fixture clock stands still, so the session has been idle
			// far longer than any ttl.
			res := f.do(t, method, seedHost, tt.path, tt.a)
			if res.status != http.StatusOK || len(res.body) != 0 {
				t.Fatalf("status %d body %q; MaxGUI needs exactly 200 with an empty body", res.status, res.body)
			}
			<-killed
			if res := f.get(t, seedHost, "/v1/sessions/9", admin); res.status != http.StatusNotFound {
				t.Fatalf("killed session still served: %d", res.status)
			}
		})
	}
}

func (f *fixture) send(t *testing.T, method, path, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = seedHost
	admin(req)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
}

func TestPatchSessionParameters(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		status                  int
		detail                  string
		want                    core.LogFlags
	}{
		{name: "set info, clear warning", contentType: "application/json",
			body:   `{"data":{"attributes":{"parameters":{"log_info":true,"log_warning":false}}}}`,
			status: 200, want: core.LogFlags{Info: true, Notice: true, Error: true}},
		{name: "no content type is accepted", body: `{"data":{"attributes":{"parameters":{"log_error":false}}}}`,
			status: 200, want: core.LogFlags{Notice: true, Warning: true}},
		{name: "unknown parameter", contentType: "application/json",
			body:   `{"data":{"attributes":{"parameters":{"log_debug":true}}}}`,
			status: 400, detail: `unknown session parameter "log_debug": use log_info, log_notice, log_warning or log_error`},
		{name: "non-boolean", contentType: "application/json",
			body:   `{"data":{"attributes":{"parameters":{"log_info":"yes"}}}}`,
			status: 400, detail: `session parameter "log_info" must be true or false, not "yes"`},
		{name: "not an object", contentType: "application/json", body: `[1,2]`,
			status: 400, detail: "request body must be a JSON object"},
		{name: "wrong media type", contentType: "text/plain", body: `{}`,
			status: 415, detail: "request body must be application/json, not text/plain"},
		{name: "too large", contentType: "application/json", body: `{"x":"` + strings.Repeat("a", 1<<20) + `"}`,
			status: 413, detail: "request body is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			f.openSeed(t)
			res := f.send(t, "PATCH", "/v1/sessions/9", tt.contentType, tt.body)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			s, _ := f.reg.Get(9)
			if tt.status != 200 {
				if string(res.body) != errorBody(tt.detail) {
					t.Errorf("body = %s, want %s", res.body, errorBody(tt.detail))
				}
				if s.Log != core.DefaultLogFlags {
					t.Errorf("a refused PATCH changed the flags to %+v", s.Log)
				}
				return
			}
			if len(res.body) != 0 || s.Log != tt.want {
				t.Errorf("body %q, flags %+v; want empty and %+v", res.body, s.Log, tt.want)
			}
			var doc struct {
				Data struct {
					Attributes struct {
						Parameters map[string]bool `json:"parameters"`
					} `json:"attributes"`
				} `json:"data"`
			}
			_ = json.Unmarshal(f.get(t, seedHost, "/v1/sessions/9", admin).body, &doc)
			if got := doc.Data.Attributes.Parameters["log_info"]; got != tt.want.Info {
				t.Errorf("GET after PATCH shows log_info=%v", got)
			}
		})
	}
}

func TestRestartIsRefusedWithAReason(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/v1/sessions/restart", 400},
		{"/v1/sessions/9/restart", 400},
		{"/v1/sessions/99/restart", 404},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res := f.send(t, "POST", tt.path, "", "")
			if res.status != tt.status || !bytes.Contains(res.body, []byte(`"detail"`)) {
				t.Fatalf("status %d body %s, want %d with a reason", res.status, res.body, tt.status)
			}
		})
	}
}

func TestSingleResourceParameters(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)
	tests := []struct {
		path   string
		status int
		check  func(t *testing.T, body []byte)
	}{
		{"/v1/sessions/9?fields%5Bsessions%5D=user", 200, func(t *testing.T, body []byte) {
			var doc struct {
				Data struct {
					ID         string         `json:"id"`
					Attributes map[string]any `json:"attributes"`
				} `json:"data"`
			}
			_ = json.Unmarshal(body, &doc)
			if doc.Data.ID != "9" || len(doc.Data.Attributes) != 1 || doc.Data.Attributes["user"] != "maxuser" {
				t.Errorf("data = %+v", doc.Data)
			}
		}},
		{"/v1/services/RW-Split-Router?fields%5Bservices%5D=router", 200, func(t *testing.T, body []byte) {
			if !bytes.Contains(body, []byte(`"router"`)) || bytes.Contains(body, []byte(`"state"`)) {
				t.Errorf("fields not applied: %s", body)
			}
		}},
		{"/v1/sessions/9?filter=" + url.QueryEscape(`/id="9"`), 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := f.get(t, seedHost, tt.path, admin)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.check != nil {
				tt.check(t, res.body)
			}
		})
	}
}

// rdns=true names clients by reverse DNS. Only loopback is looked up here:
// 127.0.0.1 is named by /etc/hosts, so no query leaves the machine.
func TestReverseDNS(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: "maxuser", Remote: "127.0.0.1"})
	want, err := net.DefaultResolver.LookupAddr(t.Context(), "127.0.0.1")
	if err != nil || len(want) == 0 {
		t.Fatalf("this machine cannot name 127.0.0.1: %v", err)
	}
	name := strings.TrimSuffix(want[0], ".")
	for _, path := range []string{"/v1/sessions?rdns=true", "/v1/sessions/" + h.ID().String() + "?rdns=true"} {
		t.Run(path, func(t *testing.T) {
			res := f.get(t, seedHost, path, admin)
			if !bytes.Contains(res.body, []byte(`"remote": "`+name+`"`)) {
				t.Fatalf("remote is not %q: %s", name, res.body)
			}
		})
	}
	if res := f.get(t, seedHost, "/v1/sessions", admin); !bytes.Contains(res.body, []byte(`"remote": "127.0.0.1"`)) {
		t.Fatalf("without rdns the address must stay: %s", res.body)
	}
}
