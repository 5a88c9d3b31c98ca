/**
 * Reading reference and current data from files: CSV (RFC 4180, header row),
 * JSON lines, and JSON (`{"columns", "data"}` or an array of records).
 * The CSV reader parses numbers straight from the bytes into typed arrays.
 */
import fs from "node:fs";
import path from "node:path";
import { invalidParameter } from "../errors.js";
import { ColumnBuilder, tableFromBuilders, tableFromRecords, tableFromSplit, type Table } from "./columns.js";

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

/** Reads a CSV file's columns (first line = header). */
export function readCsv(buf: Buffer, delimiter = 44): Table {
  let pos = 0;
  const len = buf.length;
  if (len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
  const header: string[] = [];
  let builders: ColumnBuilder[] = [];
  let col = 0;
  let rows = 0;
  let inHeader = true;
  const estRows = Math.max(16, Math.min(1 << 24, Math.floor(len / 32)));
  const field = (start: number, end: number, quoted: string | undefined) => {
    if (inHeader) {
      header.push(quoted ?? buf.toString("utf8", start, end).trim());
      return;
    }
    const b = builders[col];
    if (!b) throw invalidParameter(`CSV row ${rows + 2} has more fields than the header's ${builders.length}`);
    if (quoted !== undefined) {
      b.push(quoted);
      return;
    }
    if (start === end) return b.pushMissing();
    const x = parseNumber(buf, start, end);
    if (x === x) b.pushNumber(x);
    else b.push(buf.toString("utf8", start, end));
  };
  const endRow = () => {
    if (inHeader) {
      inHeader = false;
      const seen = new Set<string>();
      for (const h of header) {
        if (seen.has(h)) throw invalidParameter(`CSV header names column '${h}' twice`);
        seen.add(h);
      }
      builders = header.map((h) => new ColumnBuilder(h, estRows));
    } else {
      if (col + 1 < builders.length) {
        // a short row: the missing fields are missing values
        for (let c = col + 1; c < builders.length; c++) builders[c]!.pushMissing();
      }
      rows++;
    }
    col = 0;
  };
  while (pos < len) {
    // skip blank lines
    if (buf[pos] === 10 || buf[pos] === 13) {
      pos++;
      continue;
    }
    for (;;) {
      let start = pos;
      let quoted: string | undefined;
      let end: number;
      if (buf[pos] === 34) {
        const parts: string[] = [];
        start = ++pos;
        for (;;) {
          const q = buf.indexOf(34, pos);
          if (q < 0) throw invalidParameter(`CSV has an unterminated quoted field in row ${rows + 2}`);
          if (buf[q + 1] === 34) {
            parts.push(buf.toString("utf8", start, q + 1));
            pos = start = q + 2;
            continue;
          }
          parts.push(buf.toString("utf8", start, q));
          pos = q + 1;
          break;
        }
        quoted = parts.join("");
        while (pos < len && buf[pos] !== delimiter && buf[pos] !== 10 && buf[pos] !== 13) pos++;
        end = pos;
      } else {
        while (pos < len) {
          const c = buf[pos];
          if (c === delimiter || c === 10 || c === 13) break;
          pos++;
        }
        end = pos;
      }
      field(start, end, quoted);
      if (pos < len && buf[pos] === delimiter) {
        pos++;
        col++;
        if (pos >= len) {
          field(pos, pos, undefined);
          break;
        }
        continue;
      }
      break;
    }
    endRow();
    if (buf[pos] === 13) pos++;
    if (buf[pos] === 10) pos++;
  }
  if (inHeader) throw invalidParameter("CSV file is empty: it has no header row");
  return tableFromBuilders(builders, rows);
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
  if (ext === ".parquet") throw invalidParameter(`${file}: Parquet is not read yet; convert it to CSV or JSON lines`);
  throw invalidParameter(`${file}: unknown file type '${ext}' (use .csv, .tsv, .jsonl or .json)`);
}
