/**
 * Reading reference and current data from files: CSV (RFC 4180, header row),
 * JSON lines, and JSON (`{"columns", "data"}` or an array of records).
 * The CSV reader parses numbers straight from the bytes into typed arrays.
 */
import fs from "node:fs";
import path from "node:path";
import { invalidParameter } from "../errors.js";
import { ColumnBuilder, MISSING_TEXT, tableFromBuilders, tableFromRecords, tableFromSplit, type Table } from "./columns.js";

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parses a decimal number from `buf[start, end)`; NaN when the bytes are not
 * one. Up to 15 significant digits and a power of ten up to 22 the result is
 * exact (one correctly rounded division or product: Clinger's fast path);
 * anything else goes through `Number`.
 */
function parseNumber(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end && buf[i] === 32) i++;
  while (end > i && buf[end - 1] === 32) end--;
  if (i === end) return NaN;
  let neg = false;
  if (buf[i] === 45 || buf[i] === 43) {
    neg = buf[i] === 45;
    i++;
  }
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let any = false;
  while (i < end) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) break;
    if (digits > 0 || c !== 0) digits++;
    mant = mant * 10 + c;
    any = true;
    i++;
  }
  if (i < end && buf[i] === 46) {
    i++;
    while (i < end) {
      const c = buf[i]! - 48;
      if (c < 0 || c > 9) break;
      if (digits > 0 || c !== 0) digits++;
      mant = mant * 10 + c;
      scale--;
      any = true;
      i++;
    }
  }
  if (!any) return slowNumber(buf, start, end);
  if (i < end && (buf[i] === 101 || buf[i] === 69)) {
    i++;
    let eneg = false;
    if (buf[i] === 45 || buf[i] === 43) {
      eneg = buf[i] === 45;
      i++;
    }
    let e = 0;
    let eany = false;
    while (i < end) {
      const c = buf[i]! - 48;
      if (c < 0 || c > 9) break;
      e = e * 10 + c;
      eany = true;
      i++;
    }
    if (!eany) return NaN;
    scale += eneg ? -e : e;
  }
  if (i !== end) return slowNumber(buf, start, end);
  if (digits > 15 || scale < -22 || scale > 22) return slowNumber(buf, start, end);
  const v = scale < 0 ? mant / POW10[-scale]! : mant * POW10[scale]!;
  return neg ? -v : v;
}

function slowNumber(buf: Buffer, start: number, end: number): number {
  const s = buf.toString("latin1", start, end).trim();
  if (s === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Infinity|nan|NaN)$/.test(s)) return NaN;
  return Number(s.replace(/^([+-]?)inf$/, "$1Infinity").replace(/^[+-]?nan$/i, "NaN"));
}

const RECENT_SLOTS = 64;

interface Interned {
  bytes: Buffer;
  hash: number;
  text: string;
  missing: boolean;
  count: number;
}

/**
 * Reads a CSV file's columns (first line = header) in one pass over the
 * bytes: the rows are counted first (memchr) so each column is one
 * preallocated Float64Array; a number is parsed while its field is scanned;
 * a text value is interned by a hash of its bytes, so a category seen a
 * million times becomes one string. Quoted fields take the general path.
 */
export function readCsv(buf: Buffer, delimiter = 44): Table {
  let pos = 0;
  const len = buf.length;
  if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
  while (pos < len && (buf[pos] === 10 || buf[pos] === 13)) pos++;
  if (pos >= len) throw invalidParameter("CSV file is empty: it has no header row");
  let headerEnd = pos;
  // the header may quote names; find its end outside quotes
  for (let q = false; headerEnd < len; headerEnd++) {
    const c = buf[headerEnd];
    if (c === 34) q = !q;
    else if (!q && (c === 10 || c === 13)) break;
  }
  const header = splitCsvLine(buf.toString("utf8", pos, headerEnd), delimiter).map((h) => h.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw invalidParameter(`CSV header names column '${h}' twice`);
    seen.add(h);
  }
  pos = headerEnd;
  // the rows, estimated from the line breaks of the first 256 kB (exact when that is the whole file); the columns grow if it falls short
  const sampleEnd = Math.min(len, pos + (256 << 10));
  let breaks = 1;
  for (let i = buf.indexOf(10, pos); i >= 0 && i < sampleEnd; i = buf.indexOf(10, i + 1)) breaks++;
  let capacity = sampleEnd === len ? breaks : Math.ceil((breaks * (len - pos)) / (sampleEnd - pos) * 1.05) + 1024;
  const ncols = header.length;
  const builders = header.map((h) => new ColumnBuilder(h, capacity));
  const nums = builders.map((b) => b.numbers);
  const missing = new Float64Array(ncols);
  const numeric = new Float64Array(ncols);
  const fractional = new Uint8Array(ncols);
  const dicts = header.map(() => new Map<number, Interned[]>());
  // per column, the text value last seen in each of a few hash slots: a category is found without a Map lookup
  const recent = new Array<Interned | undefined>(ncols * RECENT_SLOTS).fill(undefined);
  let row = 0;
  const slowField = (col: number, start: number, end: number, quoted: string | undefined) => {
    const b = builders[col]!;
    b.length = row;
    if (quoted !== undefined) b.push(quoted);
    else b.push(buf.toString("utf8", start, end));
    // b.push wrote numbers[row] and bumped its own counters; fold them into ours
  };
  while (pos < len) {
    const c0 = buf[pos];
    if (c0 === 10 || c0 === 13) {
      pos++;
      continue;
    }
    if (row >= capacity) {
      capacity = Math.ceil(capacity * 1.5) + 1024;
      for (let c = 0; c < ncols; c++) nums[c] = builders[c]!.reserve(capacity);
    }
    let col = 0;
    for (;;) {
      if (col >= ncols) throw invalidParameter(`CSV row ${row + 2} has more fields than the header's ${ncols}`);
      const start = pos;
      if (buf[pos] === 34) {
        // quoted: the general path
        const parts: string[] = [];
        let s = ++pos;
        for (;;) {
          const q = buf.indexOf(34, pos);
          if (q < 0) throw invalidParameter(`CSV has an unterminated quoted field in row ${row + 2}`);
          if (buf[q + 1] === 34) {
            parts.push(buf.toString("utf8", s, q + 1));
            pos = s = q + 2;
            continue;
          }
          parts.push(buf.toString("utf8", s, q));
          pos = q + 1;
          break;
        }
        while (pos < len && buf[pos] !== delimiter && buf[pos] !== 10 && buf[pos] !== 13) pos++;
        slowField(col, start, pos, parts.join(""));
      } else {
        // a number, parsed as the field is scanned
        let p = pos;
        let neg = false;
        let c = buf[p];
        if (c === 45 || c === 43) {
          neg = c === 45;
          c = buf[++p];
        }
        let mant = 0;
        let scale = 0;
        const intStart = p;
        while (c! >= 48 && c! <= 57) {
          mant = mant * 10 + (c! - 48);
          c = buf[++p];
        }
        let any = p > intStart;
        if (c === 46) {
          c = buf[++p];
          const fracStart = p;
          while (c! >= 48 && c! <= 57) {
            mant = mant * 10 + (c! - 48);
            c = buf[++p];
          }
          scale = fracStart - p;
          any ||= p > fracStart;
        }
        // below 2^53 every digit was exact, so one correctly rounded product or quotient is the nearest double
        let ok = any && mant < 9007199254740992;
        if (ok && (c === 101 || c === 69)) {
          c = buf[++p];
          let eneg = false;
          if (c === 45 || c === 43) {
            eneg = c === 45;
            c = buf[++p];
          }
          let e = 0;
          let eany = false;
          while (c !== undefined && c >= 48 && c <= 57) {
            e = e * 10 + (c - 48);
            eany = true;
            c = buf[++p];
          }
          ok = eany;
          scale += eneg ? -e : e;
        }
        if (ok && (c === delimiter || c === 10 || c === 13 || c === undefined) && scale >= -22 && scale <= 22) {
          const v = scale < 0 ? mant / POW10[-scale]! : scale > 0 ? mant * POW10[scale]! : mant;
          nums[col]![row] = neg ? -v : v;
          numeric[col]!++;
          if (scale < 0 && fractional[col] === 0 && v !== Math.floor(v)) fractional[col] = 1;
          pos = p;
        } else {
          let h = 0x811c9dc5;
          p = pos;
          while (p < len) {
            const b = buf[p]!;
            if (b === delimiter || b === 10 || b === 13) break;
            h = Math.imul(h ^ b, 0x01000193);
            p++;
          }
          const end = p;
          pos = p;
          if (end === start) {
            nums[col]![row] = NaN;
            missing[col]!++;
          } else {
            const dict = dicts[col]!;
            const flen = end - start;
            const slot = col * RECENT_SLOTS + (h & (RECENT_SLOTS - 1));
            let hit: Interned | undefined = recent[slot];
            if (hit !== undefined) {
              // the value last seen with this hash's low bits, checked byte by byte
              const eb = hit.bytes;
              let k = 0;
              if (hit.hash === h && eb.length === flen) while (k < flen && eb[k] === buf[start + k]) k++;
              if (k !== flen || flen === 0) hit = undefined;
            }
            let list = hit ? undefined : dict.get(h & 0x3fffffff);
            if (list) {
              for (const e of list) {
                const eb = e.bytes;
                if (eb.length !== flen) continue;
                let k = 0;
                while (k < flen && eb[k] === buf[start + k]) k++;
                if (k === flen) {
                  hit = e;
                  break;
                }
              }
            }
            const x = hit ? NaN : parseNumber(buf, start, end);
            if (x === x && !Number.isFinite(x)) {
              // ±inf counts as missing, as Evidently drops it
              nums[col]![row] = NaN;
              missing[col]!++;
            } else if (x === x) {
              // a number the fast path does not take (long mantissa, exponent, spaces)
              nums[col]![row] = x;
              numeric[col]!++;
              if (fractional[col] === 0 && !Number.isInteger(x)) fractional[col] = 1;
            } else {
              nums[col]![row] = NaN;
              if (!hit) {
                const text = buf.toString("utf8", start, end);
                hit = { bytes: Buffer.from(buf.subarray(start, end)), hash: h, text, missing: MISSING_TEXT.has(text.trim()), count: 0 };
                if (!list) dict.set(h & 0x3fffffff, (list = []));
                list.push(hit);
              }
              recent[slot] = hit;
              if (hit.missing) missing[col]!++;
              else hit.count++;
            }
          }
        }
      }
      if (pos < len && buf[pos] === delimiter) {
        pos++;
        col++;
        if (pos >= len || buf[pos] === 10 || buf[pos] === 13) {
          // an empty last field
          if (col >= ncols) throw invalidParameter(`CSV row ${row + 2} has more fields than the header's ${ncols}`);
          nums[col]![row] = NaN;
          missing[col]!++;
          col++;
          break;
        }
        continue;
      }
      col++;
      break;
    }
    // a short row: the missing fields are missing values
    for (; col < ncols; col++) {
      nums[col]![row] = NaN;
      missing[col]!++;
    }
    row++;
    if (buf[pos] === 13) pos++;
    if (buf[pos] === 10) pos++;
  }
  for (let c = 0; c < ncols; c++) {
    const b = builders[c]!;
    for (const list of dicts[c]!.values()) {
      for (const e of list) {
        if (e.count === 0) continue;
        b.text.set(e.text, (b.text.get(e.text) ?? 0) + e.count);
        b.textRows += e.count;
      }
    }
    b.length = row;
    b.missing += missing[c]!;
    b.numericRows += numeric[c]!;
    if (fractional[c]) b.fractional = true;
  }
  return tableFromBuilders(builders, row);
}

/** One CSV line's fields (the header), quotes undone. */
function splitCsvLine(line: string, delimiter: number): string[] {
  const d = String.fromCharCode(delimiter);
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === d) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Reads JSON lines: one record (object) per line. */
export function readJsonLines(text: string): Table {
  const records: Record<string, unknown>[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw invalidParameter(`JSON lines: line ${lineNo} is not valid JSON`);
    }
    if (!v || typeof v !== "object" || Array.isArray(v)) throw invalidParameter(`JSON lines: line ${lineNo} is not an object`);
    records.push(v as Record<string, unknown>);
  }
  return tableFromRecords(records);
}

/** A JSON table: `{"columns": [...], "data": [[...]]}` (pandas' split format), or an array of records. */
export function tableFromJson(v: unknown): Table {
  if (Array.isArray(v)) {
    if (!v.every((r) => r && typeof r === "object" && !Array.isArray(r))) throw invalidParameter("A JSON table given as an array must hold objects (records)");
    return tableFromRecords(v as Record<string, unknown>[]);
  }
  if (v && typeof v === "object") {
    const o = v as { columns?: unknown; data?: unknown };
    if (Array.isArray(o.columns) && Array.isArray(o.data)) {
      if (!o.columns.every((c) => typeof c === "string")) throw invalidParameter("'columns' must be a list of strings");
      if (!o.data.every((r) => Array.isArray(r))) throw invalidParameter("'data' must be a list of rows (lists)");
      for (const [i, r] of (o.data as unknown[][]).entries()) {
        if (r.length !== o.columns.length) throw invalidParameter(`row ${i} has ${r.length} values for ${o.columns.length} columns`);
      }
      return tableFromSplit(o.columns as string[], o.data as unknown[][]);
    }
  }
  throw invalidParameter("A JSON table must be {\"columns\": [...], \"data\": [[...], ...]} or a list of records");
}

/** Reads a table from a file, by its extension: .csv, .tsv, .jsonl/.ndjson, .json. */
export function readTableFile(file: string): Table {
  if (!fs.existsSync(file)) throw invalidParameter(`No such file: ${file}`);
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv" || ext === ".txt") return readCsv(fs.readFileSync(file));
  if (ext === ".tsv") return readCsv(fs.readFileSync(file), 9);
  if (ext === ".jsonl" || ext === ".ndjson") return readJsonLines(fs.readFileSync(file, "utf8"));
  if (ext === ".json") {
    let v: unknown;
    try {
      v = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      throw invalidParameter(`${file} is not valid JSON`);
    }
    return tableFromJson(v);
  }
  if (ext === ".parquet") throw invalidParameter(`${file}: Parquet is read asynchronously: use readTable`);
  throw invalidParameter(`${file}: unknown file type '${ext}' (use .csv, .tsv, .jsonl or .json)`);
}

/**
 * Reads a table from a file of any supported type, Parquet included
 * (hyparquet, loaded on first use; every column chunk pushed into the
 * columns as it is decoded; INT64 becomes a number, dates ISO text).
 *
 * @example
 * ```ts
 * const table = await readTable("train.parquet");
 * ```
 */
export async function readTable(file: string): Promise<Table> {
  if (path.extname(file).toLowerCase() !== ".parquet") return readTableFile(file);
  if (!fs.existsSync(file)) throw invalidParameter(`No such file: ${file}`);
  const { parquetMetadataAsync, parquetRead, parquetSchema } = await import("hyparquet");
  const buf = fs.readFileSync(file);
  const asyncBuffer = { byteLength: buf.length, slice: (start: number, end?: number) => buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + (end ?? buf.length)) as ArrayBuffer };
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    metadata = await parquetMetadataAsync(asyncBuffer);
  } catch (err) {
    throw invalidParameter(`${file} is not a Parquet file: ${(err as Error).message}`);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const rows = Number(metadata.num_rows);
  const chunks = new Map<string, { rowStart: number; data: ArrayLike<unknown> }[]>(columns.map((c) => [c, []]));
  await parquetRead({
    file: asyncBuffer,
    metadata,
    onChunk: (chunk) => chunks.get(chunk.columnName)?.push({ rowStart: chunk.rowStart, data: chunk.columnData as ArrayLike<unknown> }),
  });
  const builders = columns.map((name) => {
    const b = new ColumnBuilder(name, Math.max(16, rows));
    const parts = chunks.get(name)!.sort((x, y) => x.rowStart - y.rowStart);
    let next = 0;
    for (const part of parts) {
      for (let i = 0; i < part.data.length; i++) {
        const row = part.rowStart + i;
        if (row < next || row >= rows) continue; // chunks may overlap the requested range
        const v = part.data[i];
        if (typeof v === "number") b.pushNumber(v);
        else if (typeof v === "bigint") b.pushNumber(Number(v));
        else if (v instanceof Date) b.pushText(v.toISOString());
        else b.push(v);
        next = row + 1;
      }
    }
    while (b.length < rows) b.pushMissing();
    return b;
  });
  return tableFromBuilders(builders, rows);
}
