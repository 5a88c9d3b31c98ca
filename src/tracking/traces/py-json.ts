/**
 * JSON values the way MLflow's Python side writes them. Span attributes are
 * stored as `json.dumps(value)` text, and a reader must get back the same
 * types: `3.0` stays a float and `3` an int (OTLP tells `double_value` from
 * `int_value`), 64-bit integers keep every digit, and dict keys keep their
 * order. {@link loads} parses such text (also Python's `NaN`/`Infinity`) and
 * {@link dumps} writes text byte-for-byte as Python's `json.dumps(...,
 * ensure_ascii=False)` does, with its `", "` and `": "` separators.
 */

/** A Python int: the decimal digits, so 64-bit values survive. */
export class PyInt {
  constructor(readonly digits: string) {}
}

/** A Python float (also NaN and ±Infinity). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A Python dict: insertion-ordered entries (a JS object would reorder integer-like keys). */
export class PyDict {
  constructor(readonly entries: [string, PyValue][] = []) {}
  get(key: string): PyValue | undefined {
    for (const [k, v] of this.entries) if (k === key) return v;
    return undefined;
  }
}

export type PyValue = null | boolean | string | PyInt | PyFloat | PyValue[] | PyDict;

/** Python's `repr(float)`: the shortest round-trip digits, with Python's exponent and `.0` rules. */
export function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0.0";
  const abs = Math.abs(x);
  if (abs !== 0 && (abs >= 1e16 || abs < 1e-4)) {
    const [mant, exp] = x.toExponential().split("e") as [string, string];
    const e = Number(exp);
    return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  const s = String(x);
  if (s.includes("e")) {
    // JS switches to exponent form at 1e21; Python only at 1e16, handled above.
    return BigInt(Math.round(x)).toString() + ".0";
  }
  return s.includes(".") ? s : `${s}.0`;
}

function dumpString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/** `json.dumps(value, ensure_ascii=False)`. */
export function dumps(v: PyValue): string {
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "string") return dumpString(v);
  if (v instanceof PyInt) return v.digits;
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (Array.isArray(v)) return `[${v.map(dumps).join(", ")}]`;
  return `{${v.entries.map(([k, x]) => `${dumpString(k)}: ${dumps(x)}`).join(", ")}}`;
}

class Reader {
  i = 0;
  constructor(readonly s: string) {}
  ws(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i]!)) this.i++;
  }
  fail(): never {
    throw new SyntaxError(`invalid JSON at position ${this.i}`);
  }
  value(): PyValue {
    this.ws();
    const ch = this.s[this.i];
    if (ch === "{") {
      this.i++;
      const d = new PyDict();
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return d;
      }
      for (;;) {
        this.ws();
        if (this.s[this.i] !== '"') this.fail();
        const k = this.string();
        this.ws();
        if (this.s[this.i++] !== ":") this.fail();
        d.entries.push([k, this.value()]);
        this.ws();
        const sep = this.s[this.i++];
        if (sep === "}") return d;
        if (sep !== ",") this.fail();
      }
    }
    if (ch === "[") {
      this.i++;
      const a: PyValue[] = [];
      this.ws();
      if (this.s[this.i] === "]") {
        this.i++;
        return a;
      }
      for (;;) {
        a.push(this.value());
        this.ws();
        const sep = this.s[this.i++];
        if (sep === "]") return a;
        if (sep !== ",") this.fail();
      }
    }
    if (ch === '"') return this.string();
    for (const [word, val] of [["true", true], ["false", false], ["null", null], ["NaN", new PyFloat(NaN)], ["Infinity", new PyFloat(Infinity)], ["-Infinity", new PyFloat(-Infinity)]] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return val;
      }
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail();
    this.i += m[0].length;
    return m[1] === undefined && m[2] === undefined ? new PyInt(m[0]) : new PyFloat(Number(m[0]));
  }
  string(): string {
    const start = this.i;
    // Fast path: no escapes.
    const end = this.s.indexOf('"', start + 1);
    if (end > 0 && !this.s.slice(start + 1, end).includes("\\")) {
      this.i = end + 1;
      return this.s.slice(start + 1, end);
    }
    let j = start;
    for (j = start + 1; j < this.s.length; j++) {
      if (this.s[j] === "\\") j++;
      else if (this.s[j] === '"') break;
    }
    if (j >= this.s.length) this.fail();
    this.i = j + 1;
    return JSON.parse(this.s.slice(start, j + 1)) as string;
  }
}

/** `json.loads(text)`, keeping int/float apart and dict order. Throws SyntaxError on bad text. */
export function loads(text: string): PyValue {
  const r = new Reader(text);
  const v = r.value();
  r.ws();
  if (r.i !== text.length) r.fail();
  return v;
}

/** Plain JS value of a Python one (for the UI and previews): ints beyond 2^53 stay strings. */
export function toPlain(v: PyValue): unknown {
  if (v instanceof PyInt) {
    const n = Number(v.digits);
    return Number.isSafeInteger(n) ? n : v.digits;
  }
  if (v instanceof PyFloat) return Number.isFinite(v.value) ? v.value : String(v.value);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof PyDict) return Object.fromEntries(v.entries.map(([k, x]) => [k, toPlain(x)]));
  return v;
}

/** Python value of a plain JS one (numbers that are integers become ints). */
export function fromPlain(v: unknown): PyValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "number") return Number.isInteger(v) ? new PyInt(String(v)) : new PyFloat(v);
  if (typeof v === "bigint") return new PyInt(v.toString());
  if (Array.isArray(v)) return v.map(fromPlain);
  if (typeof v === "object") return new PyDict(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromPlain(x)]));
  return String(v);
}
