/**
 * MLflow's scoring request formats, parsed once into a {@link ScoringInput}
 * and checked against the model's signature: `dataframe_split`,
 * `dataframe_records`, `instances`, `inputs` (JSON) and `text/csv`.
 * Every failure is a `BAD_REQUEST` whose message names the column at fault.
 */
import { MlflowError } from "../errors.js";
import type { ColumnSpec, Schema } from "./mlmodel.js";

/** A table, column by column (what pandas would build from the request). */
export interface Frame {
  kind: "frame";
  columns: string[];
  /** `data[c][r]`: column-major, so each column becomes one typed array. */
  data: unknown[][];
  rows: number;
}

/** A tensor (nested arrays) or named tensors, from `inputs`/`instances` without a column signature. */
export interface TensorInput {
  kind: "tensor";
  value: unknown;
}

export type ScoringInput = Frame | TensorInput;

export interface ParsedRequest {
  input: ScoringInput;
  params?: Record<string, unknown>;
  /** The request format: dataframe_split, dataframe_records, instances, inputs or csv. */
  format: string;
}

const FORMATS = ["dataframe_split", "dataframe_records", "instances", "inputs"] as const;

const badRequest = (message: string) => new MlflowError("BAD_REQUEST", message);

/**
 * Parses a request body by its content type. `application/json` and
 * `text/csv` (charset utf-8) are accepted, as by `mlflow models serve`.
 *
 * @example
 * ```ts
 * const { input } = parseScoringRequest('{"dataframe_split": {"columns": ["x"], "data": [[1]]}}', "application/json", schema);
 * ```
 */
export function parseScoringRequest(body: string, contentType: string | undefined, schema?: Schema): ParsedRequest {
  const [mime, ...paramParts] = (contentType ?? "").split(";").map((s) => s.trim());
  for (const part of paramParts) {
    const [key, value] = part.split("=").map((s) => s.trim().toLowerCase());
    if (key !== "charset") throw badRequest(`Unrecognized content type parameter '${key}'`);
    if (value !== "utf-8" && value !== "utf8") throw badRequest("The scoring server only supports UTF-8");
  }
  const type = (mime ?? "").toLowerCase();
  if (type === "application/json") return parseJsonRequest(body, schema);
  if (type === "text/csv") return { input: checkFrame(parseCsv(body, schema), schema), format: "csv" };
  throw badRequest(`This predictor only supports the following content types: application/json, text/csv. Got '${contentType ?? ""}'.`);
}

function parseJsonRequest(body: string, schema?: Schema): ParsedRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw badRequest(`Failed to parse input from JSON. Ensure that input is a valid JSON formatted string. Error: '${(err as Error).message}'`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw badRequest(`The input must be a JSON dictionary with exactly one of the input fields ${FORMATS.join(", ")}. Received ${Array.isArray(doc) ? "a list" : typeof doc}.`);
  }
  const obj = doc as Record<string, unknown>;
  const present = FORMATS.filter((f) => f in obj);
  if (present.length !== 1) {
    throw badRequest(`The input must be a JSON dictionary with exactly one of the input fields ${FORMATS.join(", ")}. Received dictionary with input fields: ${JSON.stringify(Object.keys(obj))}.`);
  }
  const format = present[0]!;
  for (const key of Object.keys(obj)) {
    if (key !== format && key !== "params") throw badRequest(`Unknown field '${key}' in the request: send '${format}' and optionally 'params'`);
  }
  let params: Record<string, unknown> | undefined;
  if (obj.params !== undefined) {
    if (!obj.params || typeof obj.params !== "object" || Array.isArray(obj.params)) throw badRequest("'params' must be a JSON object");
    params = obj.params as Record<string, unknown>;
  }
  const value = obj[format];
  let input: ScoringInput;
  if (format === "dataframe_split") input = frameFromSplit(value);
  else if (format === "dataframe_records") input = frameFromRecords(value, format);
  else input = fromTensorFormat(value, format, schema);
  return { input: input.kind === "frame" ? checkFrame(input, schema) : checkTensor(input, schema), params, format };
}

function frameFromSplit(value: unknown): Frame {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badRequest("Dataframe split format must be a dictionary with 'columns' and 'data'.");
  const split = value as { columns?: unknown; data?: unknown; index?: unknown };
  for (const key of Object.keys(split)) {
    if (key !== "columns" && key !== "data" && key !== "index") throw badRequest(`Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got '${key}'.`);
  }
  if (!Array.isArray(split.data)) throw badRequest("Dataframe split format must have a 'data' field holding a list of rows.");
  const rows = split.data as unknown[];
  const width = rows.length ? (Array.isArray(rows[0]) ? (rows[0] as unknown[]).length : 1) : 0;
  let columns: string[];
  if (split.columns === undefined) columns = Array.from({ length: width }, (_, i) => String(i));
  else if (!Array.isArray(split.columns) || split.columns.some((c) => typeof c !== "string" && typeof c !== "number")) throw badRequest("'columns' must be a list of column names.");
  else columns = (split.columns as unknown[]).map(String);
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup !== undefined) throw badRequest(`column '${dup}' appears twice`);
  const data = columns.map(() => new Array<unknown>(rows.length));
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const cells = Array.isArray(row) ? row : [row];
    if (cells.length !== columns.length) throw badRequest(`row ${r} has ${cells.length} values but there are ${columns.length} columns`);
    for (let c = 0; c < columns.length; c++) data[c]![r] = cells[c];
  }
  return { kind: "frame", columns, data, rows: rows.length };
}

function frameFromRecords(value: unknown, format: string): Frame {
  if (!Array.isArray(value)) throw badRequest(`${format} must be a list of records.`);
  const columns: string[] = [];
  const index = new Map<string, number>();
  for (let r = 0; r < value.length; r++) {
    const rec = value[r];
    if (!rec || typeof rec !== "object" || Array.isArray(rec)) throw badRequest(`record ${r} of ${format} is not a JSON object`);
    for (const k of Object.keys(rec)) {
      if (!index.has(k)) {
        index.set(k, columns.length);
        columns.push(k);
      }
    }
  }
  const data = columns.map(() => new Array<unknown>(value.length).fill(null));
  for (let r = 0; r < value.length; r++) {
    for (const [k, v] of Object.entries(value[r] as Record<string, unknown>)) data[index.get(k)!]![r] = v;
  }
  return { kind: "frame", columns, data, rows: value.length };
}

function fromTensorFormat(value: unknown, format: string, schema?: Schema): ScoringInput {
  const isRecords = Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === "object" && !Array.isArray(v));
  if (isRecords) return frameFromRecords(value, format);
  const isColumns = value !== null && typeof value === "object" && !Array.isArray(value);
  if (schema?.kind === "columns") {
    if (isColumns) return frameFromColumns(value as Record<string, unknown>, format);
    throw badRequest(`The model's signature has named columns (${columnNames(schema.columns)}): send '${format}' as a list of records or an object of columns, or use dataframe_split.`);
  }
  if (isColumns && schema?.kind !== "tensors") return frameFromColumns(value as Record<string, unknown>, format);
  return { kind: "tensor", value };
}

function frameFromColumns(value: Record<string, unknown>, format: string): Frame {
  const columns = Object.keys(value);
  let rows = -1;
  const data = columns.map((c) => {
    const col = value[c];
    const cells = Array.isArray(col) ? col : [col];
    if (rows >= 0 && cells.length !== rows) throw badRequest(`column '${c}' of ${format} has ${cells.length} values, the others ${rows}`);
    rows = cells.length;
    return cells;
  });
  return { kind: "frame", columns, data, rows: Math.max(rows, 0) };
}

function columnNames(cols: ColumnSpec[]): string {
  return cols.map((c) => c.name ?? "?").join(", ");
}

const NUMERIC = new Set(["double", "float", "long", "integer"]);

function typeError(col: string, type: string, value: unknown, row: number): MlflowError {
  return badRequest(`column '${col}' expects ${type}, got ${JSON.stringify(value)} in row ${row}`);
}

/** Checks a frame against a column signature: every required column present, no unknown one, each value of its type. */
function checkFrame(frame: Frame, schema?: Schema): Frame {
  if (frame.rows === 0 || frame.columns.length === 0) throw badRequest("The input is empty: send at least one row");
  if (!schema || schema.kind !== "columns") return frame;
  const specs = schema.columns;
  if (specs.some((s) => s.name === undefined)) return frame;
  const known = new Set(specs.map((s) => s.name!));
  const unknown = frame.columns.filter((c) => !known.has(c));
  if (unknown.length) throw badRequest(`unknown column${unknown.length > 1 ? "s" : ""} ${unknown.map((c) => `'${c}'`).join(", ")}: the model's signature has ${columnNames(specs)}`);
  const missing = specs.filter((s) => s.required && !frame.columns.includes(s.name!)).map((s) => s.name!);
  if (missing.length) throw badRequest(`Model is missing inputs ${JSON.stringify(missing)}: the request must have column${missing.length > 1 ? "s" : ""} ${missing.map((c) => `'${c}'`).join(", ")}`);
  for (const spec of specs) {
    const c = frame.columns.indexOf(spec.name!);
    if (c < 0) continue;
    const col = frame.data[c]!;
    for (let r = 0; r < col.length; r++) {
      const v = col[r];
      if (v === null || v === undefined) {
        if (spec.required && spec.type !== "double" && spec.type !== "float") throw badRequest(`column '${spec.name}' is required but row ${r} has no value`);
        continue;
      }
      switch (spec.type) {
        case "double":
        case "float":
          if (typeof v !== "number") throw typeError(spec.name!, spec.type, v, r);
          break;
        case "long":
        case "integer":
          if (typeof v !== "number" || !Number.isInteger(v)) throw typeError(spec.name!, spec.type, v, r);
          break;
        case "boolean":
          if (typeof v !== "boolean") throw typeError(spec.name!, spec.type, v, r);
          break;
        case "string":
          if (typeof v !== "string") throw typeError(spec.name!, spec.type, v, r);
          break;
        default:
          break;
      }
    }
  }
  return frame;
}

/** Shape of a nested array, or an error naming where it is ragged. */
export function shapeOf(value: unknown, name: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw badRequest(`input '${name}' is ragged: nested lists of different depths`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw badRequest(`input '${name}' is ragged: every list at depth ${depth} must have ${shape[depth]} items`);
    for (const item of v) walk(item, depth + 1);
  };
  walk(value, 0);
  return shape;
}

function checkTensor(input: TensorInput, schema?: Schema): TensorInput {
  const named = input.value !== null && typeof input.value === "object" && !Array.isArray(input.value);
  const entries: [string, unknown][] = named ? Object.entries(input.value as Record<string, unknown>) : [["inputs", input.value]];
  if (entries.length === 0) throw badRequest("The input is empty: send at least one row");
  for (const [name, v] of entries) {
    const shape = shapeOf(v, name);
    if (shape.length === 0 || shape[0] === 0) throw badRequest(`The input '${name}' is empty: send at least one row`);
  }
  if (schema?.kind !== "tensors") return input;
  const specs = schema.tensors;
  for (const [i, [name, v]] of entries.entries()) {
    const spec = named ? specs.find((s) => s.name === name) : specs[i];
    if (!spec) throw badRequest(`unknown input '${name}': the model's signature has ${specs.map((s) => s.name ?? "(unnamed)").join(", ")}`);
    const shape = shapeOf(v, name);
    if (shape.length !== spec.shape.length || spec.shape.some((d, k) => d !== -1 && d !== shape[k])) {
      throw badRequest(`input '${spec.name ?? name}' has shape [${shape.join(", ")}] but the model expects [${spec.shape.join(", ")}]`);
    }
    if (/^(float|int|uint)/.test(spec.dtype)) {
      const flat = (v as unknown[]).flat(Infinity);
      const bad = flat.findIndex((x) => typeof x !== "number");
      if (bad >= 0) throw badRequest(`input '${spec.name ?? name}' expects ${spec.dtype} numbers, got ${JSON.stringify(flat[bad])}`);
    }
  }
  if (named) {
    const missing = specs.filter((s) => s.name !== undefined && !(s.name in (input.value as Record<string, unknown>)));
    if (missing.length) throw badRequest(`Model is missing inputs ${JSON.stringify(missing.map((s) => s.name))}`);
  }
  return input;
}

/** RFC 4180 fields of one CSV text: quoted fields may hold commas, quotes ("") and newlines. */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
    i++;
  }
  if (quoted) throw badRequest("CSV input has an unterminated quoted field");
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

function csvValue(raw: string, spec: ColumnSpec | undefined, col: string, row: number): unknown {
  if (raw === "") return null;
  const type = spec?.type;
  if (type === undefined) {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
  }
  if (NUMERIC.has(type)) {
    const n = Number(raw);
    if (raw.trim() === "" || Number.isNaN(n)) throw typeError(col, type, raw, row);
    return n;
  }
  if (type === "boolean") {
    const v = raw.trim().toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
    throw typeError(col, type, raw, row);
  }
  return raw;
}

function parseCsv(body: string, schema?: Schema): Frame {
  const rows = csvRows(body.charCodeAt(0) === 0xfeff ? body.slice(1) : body);
  if (rows.length === 0) throw badRequest("The input is empty: the CSV has no header");
  const header = rows[0]!.map((h) => h.trim());
  if (header.some((h) => h === "")) throw badRequest("The CSV header has an empty column name");
  const dup = header.find((c, i) => header.indexOf(c) !== i);
  if (dup !== undefined) throw badRequest(`CSV column '${dup}' appears twice in the header`);
  const specs = schema?.kind === "columns" ? new Map(schema.columns.map((c) => [c.name, c])) : undefined;
  const body_ = rows.slice(1);
  const data = header.map(() => new Array<unknown>(body_.length));
  for (let r = 0; r < body_.length; r++) {
    const cells = body_[r]!;
    if (cells.length !== header.length) throw badRequest(`CSV row ${r + 1} has ${cells.length} fields but the header has ${header.length}`);
    for (let c = 0; c < header.length; c++) data[c]![r] = csvValue(cells[c]!, specs?.get(header[c]!), header[c]!, r);
  }
  return { kind: "frame", columns: header, data, rows: body_.length };
}
