package sessionview_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portico-db/portico/web/sessionview"
)

// FuzzParseView checks that any page URL's parameters give a view whose
// own URL reads back as the same view, so that links shared from the page
// open what the sender saw.
func FuzzParseView(f *testing.F) {
	f.Add("q=%20abc&service=svc&server=s1&state=ready&user=bob&sort=-idle")
	f.Add("sort=nosuchcolumn&q=a+b%26c")
	f.Add("sort=-&state=%ZZ")
	f.Add("")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		values, _ := url.ParseQuery(rawQuery)
		v := sessionview.ParseView(values.Get)
		enc := v.Encode()
		if (enc == "") != (v == sessionview.ParseView(url.Values{}.Get)) {
			t.Fatalf("view %+v encodes as %q", v, enc)
		}
		back, err := url.ParseQuery(strings.TrimPrefix(enc, "?"))
		if err != nil {
			t.Fatalf("%q does not parse: %v", enc, err)
		}
		if again := sessionview.ParseView(back.Get); again != v {
			t.Fatalf("%q: view %+v encodes as %q, which reads as %+v", rawQuery, v, enc, again)
		}
	})
}
