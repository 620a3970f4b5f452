// The JSON reader: what Python's json module reads (the reference verifier's), value for value.
//
// - An object has a null prototype (so "__proto__" is an ordinary key); of duplicate keys the last wins.
// - A number without fraction or exponent is an integer: a number, or a bigint when past 2^53 - 1;
//   -0 is the integer 0. One with a fraction or exponent is a JsonFloat, even 1.0, so that claim
//   checks can tell them apart as Python's `type(x) is int` does. NaN, Infinity and -Infinity are
//   read, as floats. An integer of more than 4,300 digits is refused (CPython's default limit).
// - \u escapes give UTF-16 code units as written, lone surrogates included, which is exactly the
//   str Python builds (it joins a valid pair into one character, as a JS string does).
// - Whitespace is space, tab, CR and LF only; raw control characters in strings are refused.
// - Nesting deeper than MAX_DEPTH is refused (Python refuses at its recursion limit, about 990).

export const MAX_DEPTH = 512;
export const MAX_INT_DIGITS = 4300;

/** A JSON number written with a fraction or an exponent (never an integer, as in Python). */
export class JsonFloat {
  constructor(readonly value: number) {}
}

export type JsonValue = null | boolean | number | bigint | string | JsonFloat | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

class Refused extends Error {}
const REFUSED = new Refused("not JSON");

function fail(): never {
  throw REFUSED;
}

class Reader {
  pos = 0;
  depth = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  literal(word: string): void {
    if (!this.text.startsWith(word, this.pos)) fail();
    this.pos += word.length;
  }

  value(): JsonValue {
    const c = this.text.charCodeAt(this.pos);
    switch (c) {
      case 0x22: // "
        return this.string();
      case 0x7b: // {
        return this.object();
      case 0x5b: // [
        return this.array();
      case 0x74: // t
        this.literal("true");
        return true;
      case 0x66: // f
        this.literal("false");
        return false;
      case 0x6e: // n
        this.literal("null");
        return null;
      case 0x4e: // N
        this.literal("NaN");
        return new JsonFloat(NaN);
      case 0x49: // I
        this.literal("Infinity");
        return new JsonFloat(Infinity);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return fail();
    }
  }

  object(): JsonObject {
    if (++this.depth > MAX_DEPTH) fail();
    this.pos++; // {
    const object: JsonObject = Object.create(null) as JsonObject;
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      this.depth--;
      return object;
    }
    for (;;) {
      if (this.text.charCodeAt(this.pos) !== 0x22) fail();
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.pos) !== 0x3a) fail(); // :
      this.pos++;
      this.skipSpace();
      object[key] = this.value();
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipSpace();
      } else if (c === 0x7d) {
        this.pos++;
        this.depth--;
        return object;
      } else {
        fail();
      }
    }
  }

  array(): JsonValue[] {
    if (++this.depth > MAX_DEPTH) fail();
    this.pos++; // [
    const array: JsonValue[] = [];
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
      this.depth--;
      return array;
    }
    for (;;) {
      array.push(this.value());
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x2c) {
        this.pos++;
        this.skipSpace();
      } else if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return array;
      } else {
        fail();
      }
    }
  }

  digits(): void {
    const text = this.text;
    let pos = this.pos;
    for (let c = text.charCodeAt(pos); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++pos));
    this.pos = pos;
  }

  number(): number | bigint | JsonFloat {
    const text = this.text;
    const start = this.pos;
    if (text.charCodeAt(this.pos) === 0x2d) {
      this.pos++;
      if (text.charCodeAt(this.pos) === 0x49) {
        this.literal("Infinity");
        return new JsonFloat(-Infinity);
      }
    }
    const first = text.charCodeAt(this.pos);
    if (first === 0x30) this.pos++;
    else if (first >= 0x31 && first <= 0x39) this.digits();
    else fail();
    let isFloat = false;
    // A fraction or exponent belongs to the number only when complete, as in Python's scanner:
    // "1." is the number 1 followed by a stray ".", which the caller then refuses.
    if (text.charCodeAt(this.pos) === 0x2e && isDigit(text.charCodeAt(this.pos + 1))) {
      this.pos += 2;
      this.digits();
      isFloat = true;
    }
    const e = text.charCodeAt(this.pos);
    if (e === 0x65 || e === 0x45) {
      let p = this.pos + 1;
      const sign = text.charCodeAt(p);
      if (sign === 0x2b || sign === 0x2d) p++;
      if (isDigit(text.charCodeAt(p))) {
        this.pos = p;
        this.digits();
        isFloat = true;
      }
    }
    const literal = text.slice(start, this.pos);
    if (isFloat) return new JsonFloat(Number(literal));
    const digits = literal.charCodeAt(0) === 0x2d ? literal.length - 1 : literal.length;
    if (digits > MAX_INT_DIGITS) fail();
    if (digits <= 15) return Number(literal) || 0; // exact; -0 is the integer 0
    const big = BigInt(literal);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  string(): string {
    const text = this.text;
    let pos = this.pos + 1; // opening quote
    let start = pos;
    let out = "";
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        this.pos = pos + 1;
        return out + text.slice(start, pos);
      }
      if (c !== c || c < 0x20) fail(); // the end of the text (NaN), or a raw control character
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(start, pos);
      const escape = text.charCodeAt(pos + 1);
      pos += 2;
      switch (escape) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += "\\";
          break;
        case 0x2f:
          out += "/";
          break;
        case 0x62:
          out += "\b";
          break;
        case 0x66:
          out += "\f";
          break;
        case 0x6e:
          out += "\n";
          break;
        case 0x72:
          out += "\r";
          break;
        case 0x74:
          out += "\t";
          break;
        case 0x75: {
          let unit = 0;
          for (let i = 0; i < 4; i++) {
            const h = hexValue(text.charCodeAt(pos + i));
            if (h < 0) fail();
            unit = (unit << 4) | h;
          }
          pos += 4;
          out += String.fromCharCode(unit);
          break;
        }
        default:
          fail();
      }
      start = pos;
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** One JSON document, or undefined where Python's json.loads would raise. */
export function parseJson(text: string): JsonValue | undefined {
  const reader = new Reader(text);
  try {
    reader.skipSpace();
    const value = reader.value();
    reader.skipSpace();
    return reader.pos === text.length ? value : undefined;
  } catch (error) {
    if (error === REFUSED || error instanceof RangeError) return undefined; // RangeError: a stack overflow
    throw error;
  }
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof JsonFloat);
}

/** A value as a program would want it: floats as plain numbers (integers past 2^53 - 1 stay bigints). */
export function plain(value: JsonValue): unknown {
  if (value instanceof JsonFloat) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(value)) out[key] = plain(value[key] as JsonValue);
    return out;
  }
  return value;
}
