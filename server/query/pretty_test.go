package query

import "testing"

func TestParsePretty(t *testing.T) {
	tests := []struct {
		name    string
		v       string
		present bool
		want    bool
		wantErr bool
	}{
		{name: "absent defaults to true", want: true},
		{name: "empty value defaults to true", present: true, want: true},
		{name: "true", v: "true", present: true, want: true},
		{name: "on", v: "on", present: true, want: true},
		{name: "yes", v: "yes", present: true, want: true},
		{name: "1", v: "1", present: true, want: true},
		{name: "false", v: "false", present: true, want: false},
		{name: "off", v: "off", present: true, want: false},
		{name: "no", v: "no", present: true, want: false},
		{name: "0", v: "0", present: true, want: false},
		{name: "case-insensitive like config_truth_value", v: "FaLsE", present: true, want: false},
		{name: "absent ignores value", v: "bogus", want: true},
		{name: "invalid", v: "maybe", present: true, wantErr: true},
		{name: "no abbreviation", v: "y", present: true, wantErr: true},
		{name: "no blanks", v: " true", present: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePretty(tt.v, tt.present)
			if tt.wantErr {
				wantError(t, err, "pretty", "invalid boolean")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParsePretty(%q, %v) = %v, want %v", tt.v, tt.present, got, tt.want)
			}
		})
	}
}
