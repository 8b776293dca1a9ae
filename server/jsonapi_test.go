package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// validateDocument checks the JSON:API 1.0 rules a generic client relies on.
func validateDocument(body []byte) error {
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	_, hasData := top["data"]
	_, hasErrors := top["errors"]
	_, hasMeta := top["meta"]
	if !hasData && !hasErrors && !hasMeta {
		return fmt.Errorf("none of data, errors, meta")
	}
	if hasData && hasErrors {
		return fmt.Errorf("both data and errors")
	}
	for k := range top {
		switch k {
		case "data", "errors", "meta", "links", "jsonapi", "included":
		default:
			return fmt.Errorf("unknown top-level member %q", k)
		}
	}
	if l, ok := top["links"]; ok {
		if err := validateLinks(l); err != nil {
			return err
		}
	}
	if hasErrors {
		errs, ok := top["errors"].([]any)
		if !ok || len(errs) == 0 {
			return fmt.Errorf("errors is not a non-empty array")
		}
		for _, e := range errs {
			if m, ok := e.(map[string]any); !ok || m["detail"] == "" {
				return fmt.Errorf("error object without detail: %v", e)
			}
		}
		return nil
	}
	switch d := top["data"].(type) {
	case nil:
	case []any:
		for _, r := range d {
			if err := validateResource(r); err != nil {
				return err
			}
		}
	default:
		return validateResource(d)
	}
	return nil
}

func validateLinks(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("links is not an object")
	}
	for k, l := range m {
		if s, ok := l.(string); !ok || s == "" {
			return fmt.Errorf("link %q is not a non-empty string", k)
		}
	}
	return nil
}

func validateIdentifier(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("resource is not an object: %v", v)
	}
	if id, ok := m["id"].(string); !ok || id == "" {
		return fmt.Errorf("resource id is not a non-empty string: %v", m["id"])
	}
	if typ, ok := m["type"].(string); !ok || typ == "" {
		return fmt.Errorf("resource type is not a non-empty string: %v", m["type"])
	}
	return nil
}

func validateResource(v any) error {
	if err := validateIdentifier(v); err != nil {
		return err
	}
	m := v.(map[string]any)
	if a, ok := m["attributes"]; ok {
		am, ok := a.(map[string]any)
		if !ok {
			return fmt.Errorf("attributes is not an object")
		}
		for _, reserved := range []string{"id", "type", "relationships", "links"} {
			if _, ok := am[reserved]; ok {
				return fmt.Errorf("attributes has reserved member %q", reserved)
			}
		}
	}
	if r, ok := m["relationships"]; ok {
		rm, ok := r.(map[string]any)
		if !ok {
			return fmt.Errorf("relationships is not an object")
		}
		for name, rel := range rm {
			relm, ok := rel.(map[string]any)
			if !ok {
				return fmt.Errorf("relationship %q is not an object", name)
			}
			if _, ok := relm["data"]; !ok && relm["links"] == nil {
				return fmt.Errorf("relationship %q has neither data nor links", name)
			}
			if l, ok := relm["links"]; ok {
				if err := validateLinks(l); err != nil {
					return fmt.Errorf("relationship %q: %w", name, err)
				}
			}
			if ids, ok := relm["data"].([]any); ok {
				for _, id := range ids {
					if err := validateIdentifier(id); err != nil {
						return fmt.Errorf("relationship %q: %w", name, err)
					}
				}
			}
		}
	}
	if l, ok := m["links"]; ok {
		return validateLinks(l)
	}
	return nil
}

func TestEveryResponseIsJSONAPI(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)
	paths := []string{
		"/v1/sessions", "/v1/sessions/9", "/sessions/10", "/v1/sessions/99", "/v1/sessions/abc",
		"/v1/sessions?page%5Bsize%5D=1", "/v1/sessions?fields%5Bsessions%5D=state", "/v1/sessions?filter=bad",
		"/v1/services", "/v1/services/RW-Split-Router", "/v1/services/nope",
		"/v1/services/RW-Split-Router/relationships/servers",
		"/v1/servers", "/v1/servers/server1", "/v1/listeners", "/v1/listeners/RW-Split-Listener",
		"/v1/nothing-here",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			res := f.get(t, seedHost, p, admin)
			if err := validateDocument(res.body); err != nil {
				t.Fatalf("%d %s: %v\n%s", res.status, p, err, res.body)
			}
			if res.status >= 400 {
				var doc struct{ Errors []any }
				_ = json.Unmarshal(res.body, &doc)
				if len(doc.Errors) == 0 {
					t.Fatalf("status %d without errors", res.status)
				}
			}
		})
	}
	t.Run("unauthenticated", func(t *testing.T) {
		res := f.get(t, seedHost, "/v1/sessions", noAuth)
		if res.status != http.StatusUnauthorized {
			t.Fatalf("status %d", res.status)
		}
		if err := validateDocument(res.body); err != nil {
			t.Fatal(err)
		}
	})
}
