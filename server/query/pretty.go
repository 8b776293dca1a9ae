package query

import (
	"fmt"
	"strings"
)

// ParsePretty interprets the `pretty` parameter. present reports whether the
// parameter was in the query string at all, because an absent parameter and
// an empty one both mean the default (true) while any other value must be one
// of MaxScale's configuration booleans (true/false, on/off, yes/no, 1/0,
// case-insensitive, as config_truth_value accepts them).
//
// MaxScale pretty-prints with sorted keys and a four-space indent and emits
// compact JSON otherwise (Client::queue_response in server/core/admin.cc).
//
// Divergence: MaxScale pretty-prints on an unrecognised value; this returns
// an *Error so the client learns the value was ignored.
func ParsePretty(v string, present bool) (bool, error) {
	if !present || v == "" {
		return true, nil
	}
	switch strings.ToLower(v) {
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return true, &Error{
		Param:  "pretty",
		Detail: fmt.Sprintf("invalid boolean %s: want true, false, on, off, yes, no, 1 or 0", quoteInput(v)),
	}
}
