package servers_test

import (
	"maps"
	"testing"

	"github.com/portico-db/portico/wasm/servers"
)

func TestStates(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    map[string]string
		wantErr bool
	}{
		{name: "two servers, other members skipped",
			doc: `{"links":{"self":"x"},"data":[` +
				`{"id":"db1","type":"servers","attributes":{"parameters":{"address":"h","port":3306},"state":"Master, Running","statistics":{"connections":2}},"relationships":{}},` +
				`{"id":"db2","type":"servers","attributes":{"state":"Down"}}]}`,
			want: map[string]string{"db1": "Master, Running", "db2": "Down"}},
		{name: "no servers", doc: `{"data":[]}`, want: map[string]string{}},
		{name: "escaped text", doc: `{"data":[{"id":"a\"b","attributes":{"state":"Slave, Running"}}]}`, want: map[string]string{`a"b`: "Slave, Running"}},
		{name: "not JSON", doc: `<html>`, wantErr: true},
		{name: "cut short", doc: `{"data":[{"id":"db1"`, wantErr: true},
		{name: "not an object", doc: `[1]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := servers.States(tt.doc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !maps.Equal(got, tt.want) {
				t.Errorf("States = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzStates(f *testing.F) {
	f.Add(`{"data":[{"id":"db1","attributes":{"state":"Down"}}]}`)
	f.Add(`{"data":[]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = servers.States(doc)
	})
}
