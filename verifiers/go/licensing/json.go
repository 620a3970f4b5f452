package licensing

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The JSON reader: what Python's json module reads (the reference verifier's), value for value.
//
//   - An object is a map[string]any; of duplicate keys the last wins.
//   - A number without fraction or exponent is an integer: int64, or json.Number (its literal) when
//     it does not fit; -0 is the integer 0. One with a fraction or exponent is a float64, even 1.0.
//     NaN, Infinity and -Infinity are read, as floats. An integer of more than 4,300 digits is
//     refused (CPython's default int_max_str_digits).
//   - Strings are UTF-8; a lone surrogate written as a \u escape is kept, in WTF-8 (three bytes that
//     valid UTF-8 never holds, so it equals no caller's string), as Python keeps it in a str.
//   - Whitespace is space, tab, CR and LF only; raw control characters in strings are refused.
//   - Nesting deeper than maxJSONDepth is refused (Python refuses at its recursion limit, about 990).
//
// The input must already be valid UTF-8 (Python decodes the bytes first and refuses what is not).

const (
	maxJSONDepth  = 512
	maxIntDigits  = 4300
	floatNaNLit   = "NaN"
	floatInfLit   = "Infinity"
	floatMInfLit  = "-Infinity"
	surrogateMin  = 0xD800
	surrogateHigh = 0xDC00
	surrogateMax  = 0xDFFF
)

// The reader works on a string: strings and keys it returns are substrings of the document, which
// costs no copy (and no allocation) when they hold no escape.
type jsonReader struct {
	data  string
	pos   int
	depth int
}

// parseJSON reads one JSON document; ok is false when Python's json.loads would raise.
func parseJSON(data []byte) (value any, ok bool) { return parseJSONString(string(data)) }

func parseJSONString(data string) (value any, ok bool) {
	r := jsonReader{data: data}
	r.skipSpace()
	value, ok = r.value()
	if !ok {
		return nil, false
	}
	r.skipSpace()
	return value, r.pos == len(r.data)
}

// parseJSONObject reads a document that must be an object.
func parseJSONObject(data []byte) (map[string]any, bool) {
	text := string(data)
	if !utf8.ValidString(text) {
		return nil, false
	}
	value, ok := parseJSONString(text)
	object, isObject := value.(map[string]any)
	return object, ok && isObject
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) literal(word string) bool {
	if len(r.data)-r.pos >= len(word) && r.data[r.pos:r.pos+len(word)] == word {
		r.pos += len(word)
		return true
	}
	return false
}

func (r *jsonReader) value() (any, bool) {
	if r.pos >= len(r.data) {
		return nil, false
	}
	switch c := r.data[r.pos]; c {
	case '"':
		return r.str()
	case '{':
		return r.object()
	case '[':
		return r.array()
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	case 'n':
		return nil, r.literal("null")
	case 'N':
		return math.NaN(), r.literal(floatNaNLit)
	case 'I':
		return math.Inf(1), r.literal(floatInfLit)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return r.number()
		}
		return nil, false
	}
}

func (r *jsonReader) enter() bool {
	r.depth++
	return r.depth <= maxJSONDepth
}

func (r *jsonReader) object() (any, bool) {
	if !r.enter() {
		return nil, false
	}
	r.pos++ // {
	object := make(map[string]any, 16)
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		r.depth--
		return object, true
	}
	for {
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return nil, false
		}
		key, ok := r.str()
		if !ok {
			return nil, false
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return nil, false
		}
		r.pos++
		r.skipSpace()
		value, ok := r.value()
		if !ok {
			return nil, false
		}
		object[key] = value
		r.skipSpace()
		if r.pos >= len(r.data) {
			return nil, false
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
			r.skipSpace()
		case '}':
			r.pos++
			r.depth--
			return object, true
		default:
			return nil, false
		}
	}
}

func (r *jsonReader) array() (any, bool) {
	if !r.enter() {
		return nil, false
	}
	r.pos++ // [
	array := make([]any, 0, 8)
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		r.depth--
		return array, true
	}
	for {
		value, ok := r.value()
		if !ok {
			return nil, false
		}
		array = append(array, value)
		r.skipSpace()
		if r.pos >= len(r.data) {
			return nil, false
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
			r.skipSpace()
		case ']':
			r.pos++
			r.depth--
			return array, true
		default:
			return nil, false
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (r *jsonReader) number() (any, bool) {
	data := r.data
	start := r.pos
	if data[r.pos] == '-' {
		r.pos++
		if r.pos < len(data) && data[r.pos] == 'I' {
			return math.Inf(-1), r.literal(floatInfLit)
		}
	}
	switch {
	case r.pos < len(data) && data[r.pos] == '0':
		r.pos++
	case r.pos < len(data) && data[r.pos] >= '1' && data[r.pos] <= '9':
		for r.pos < len(data) && isDigit(data[r.pos]) {
			r.pos++
		}
	default:
		return nil, false
	}
	isFloat := false
	// A fraction or an exponent belongs to the number only when complete, as in Python's scanner:
	// "1." is the number 1 followed by a stray ".", which the caller then refuses.
	if r.pos+1 < len(data) && data[r.pos] == '.' && isDigit(data[r.pos+1]) {
		r.pos += 2
		for r.pos < len(data) && isDigit(data[r.pos]) {
			r.pos++
		}
		isFloat = true
	}
	if r.pos < len(data) && (data[r.pos] == 'e' || data[r.pos] == 'E') {
		p := r.pos + 1
		if p < len(data) && (data[p] == '+' || data[p] == '-') {
			p++
		}
		if p < len(data) && isDigit(data[p]) {
			for p < len(data) && isDigit(data[p]) {
				p++
			}
			r.pos = p
			isFloat = true
		}
	}
	literal := data[start:r.pos]
	if isFloat {
		f, err := strconv.ParseFloat(literal, 64)
		if err != nil { // out of range: Python's float() gives inf or 0 there
			if ne, isNumErr := err.(*strconv.NumError); !isNumErr || ne.Err != strconv.ErrRange {
				return nil, false
			}
		}
		return f, true
	}
	digits := len(literal)
	if literal[0] == '-' {
		digits--
	}
	if digits > maxIntDigits {
		return nil, false
	}
	if n, err := strconv.ParseInt(literal, 10, 64); err == nil {
		return n, true
	}
	return json.Number(literal), true
}

func hexValue(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func (r *jsonReader) hex4(at int) (rune, bool) {
	if at+4 > len(r.data) {
		return 0, false
	}
	var v rune
	for i := 0; i < 4; i++ {
		h := hexValue(r.data[at+i])
		if h < 0 {
			return 0, false
		}
		v = v<<4 | h
	}
	return v, true
}

// appendWTF8 appends a code point, surrogates included (which utf8.AppendRune would replace).
func appendWTF8(buf []byte, cp rune) []byte {
	if cp >= surrogateMin && cp <= surrogateMax {
		return append(buf, byte(0xE0|cp>>12), byte(0x80|(cp>>6)&0x3F), byte(0x80|cp&0x3F))
	}
	return utf8.AppendRune(buf, cp)
}

func (r *jsonReader) str() (string, bool) {
	data := r.data
	r.pos++ // opening quote
	start := r.pos
	// Fast path: no escapes.
	for r.pos < len(data) {
		c := data[r.pos]
		if c == '"' {
			s := data[start:r.pos]
			r.pos++
			return s, true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", false
		}
		r.pos++
	}
	buf := make([]byte, 0, r.pos-start+16)
	buf = append(buf, data[start:r.pos]...)
	for r.pos < len(data) {
		c := data[r.pos]
		switch {
		case c == '"':
			r.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			r.pos++
			continue
		}
		if r.pos+1 >= len(data) {
			return "", false
		}
		escape := data[r.pos+1]
		r.pos += 2
		switch escape {
		case '"', '\\', '/':
			buf = append(buf, escape)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			cp, ok := r.hex4(r.pos)
			if !ok {
				return "", false
			}
			r.pos += 4
			if cp >= surrogateMin && cp < surrogateHigh && r.pos+1 < len(data) && data[r.pos] == '\\' && data[r.pos+1] == 'u' {
				low, ok := r.hex4(r.pos + 2)
				if !ok {
					return "", false
				}
				if low >= surrogateHigh && low <= surrogateMax {
					cp = 0x10000 + (cp-surrogateMin)<<10 + (low - surrogateHigh)
					r.pos += 6
				}
			}
			buf = appendWTF8(buf, cp)
		default:
			return "", false
		}
	}
	return "", false
}
