/**
 * Columns as monitoring reads them: one pass over the rows, numbers into a
 * growing Float64Array (NaN where a value is missing or not a number), text
 * values counted in a Map. A column's kind is decided once all rows are in.
 */

export const MISSING_TEXT = new Set(["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "none", "<NA>"]);

export class ColumnBuilder {
  numbers: Float64Array;
  length = 0;
  /** Rows whose value is not a number, by value. */
  readonly text = new Map<string, number>();
  textRows = 0;
  numericRows = 0;
  missing = 0;
  /** Numbers with a fractional part (so the column is not an integer column). */
  fractional = false;

  constructor(readonly name: string, capacity = 1024) {
    this.numbers = new Float64Array(capacity);
  }

  private grow(): void {
    const next = new Float64Array(this.numbers.length * 2);
    next.set(this.numbers);
    this.numbers = next;
  }

  /** Makes room for at least `n` rows; the (possibly new) array of numbers. */
  reserve(n: number): Float64Array {
    if (n > this.numbers.length) {
      const next = new Float64Array(n);
      next.set(this.numbers);
      this.numbers = next;
    }
    return this.numbers;
  }

  pushNumber(x: number): void {
    if (this.length === this.numbers.length) this.grow();
    if (Number.isFinite(x)) {
      this.numbers[this.length++] = x;
      this.numericRows++;
      if (!this.fractional && !Number.isInteger(x)) this.fractional = true;
    } else {
      // NaN and ±inf count as missing, as Evidently drops them
      this.numbers[this.length++] = NaN;
      this.missing++;
    }
  }

  pushMissing(): void {
    if (this.length === this.numbers.length) this.grow();
    this.numbers[this.length++] = NaN;
    this.missing++;
  }

  pushText(s: string): void {
    if (MISSING_TEXT.has(s)) return this.pushMissing();
    if (this.length === this.numbers.length) this.grow();
    this.numbers[this.length++] = NaN;
    this.textRows++;
    this.text.set(s, (this.text.get(s) ?? 0) + 1);
  }

  /** A JSON value: number, string, boolean, null. */
  push(v: unknown): void {
    if (typeof v === "number") this.pushNumber(v);
    else if (v === null || v === undefined) this.pushMissing();
    else if (typeof v === "string") {
      const t = v.trim();
      const x = t === "" ? NaN : Number(t);
      if (Number.isFinite(x)) this.pushNumber(x);
      else this.pushText(v);
    } else if (typeof v === "boolean") this.pushText(v ? "True" : "False");
    else this.pushText(JSON.stringify(v));
  }

  /** The numbers, trimmed to the rows pushed. */
  values(): Float64Array {
    return this.numbers.subarray(0, this.length);
  }
}

/** A table read from a file or a window of the prediction log. */
export interface Table {
  columns: string[];
  data: ColumnBuilder[];
  rows: number;
}

export function tableFromBuilders(builders: ColumnBuilder[], rows: number): Table {
  return { columns: builders.map((b) => b.name), data: builders, rows };
}

/** Builds a table from `{columns, data}` rows (the prediction log's and MLflow's split format). */
export function tableFromSplit(columns: string[], rows: unknown[][]): Table {
  const builders = columns.map((c) => new ColumnBuilder(c, Math.max(16, rows.length)));
  for (const row of rows) for (let j = 0; j < builders.length; j++) builders[j]!.push(row[j]);
  return tableFromBuilders(builders, rows.length);
}

/** Builds a table from records; the columns are the union of keys in first-seen order. */
export function tableFromRecords(records: Record<string, unknown>[]): Table {
  const index = new Map<string, number>();
  for (const r of records) for (const k of Object.keys(r)) if (!index.has(k)) index.set(k, index.size);
  const columns = [...index.keys()];
  const rows = records.map((r) => columns.map((c) => r[c]));
  return tableFromSplit(columns, rows);
}
