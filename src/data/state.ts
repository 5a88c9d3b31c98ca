/**
 * The state cache: what a file's md5 was the last time it was hashed, keyed by
 * inode with its size and modification time (nanoseconds), like DVC's state
 * database. A file whose inode, size and mtime all match is not read again.
 *
 * It is a SQLite file under `.dvc/tmp/` opened through the store seam
 * (`openSqliteFile`): the one place that loads the database driver and sets
 * its pragmas (WAL, so two mloop processes can share it). It is only a cache:
 * a lost or broken file costs a re-hash, so a file that does not open is
 * replaced. Lookups load the table once per command (one query); updates are
 * written in one transaction at the end.
 */
import fs from "node:fs";
import { openSqliteFile, type Migration, type SqlDriver } from "../store/index.js";
import type { FileHash } from "./hash.js";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "state",
    sql: "CREATE TABLE state (inode TEXT PRIMARY KEY, mtime TEXT NOT NULL, size INTEGER NOT NULL, md5 TEXT NOT NULL, checked_at BIGINT NOT NULL)",
  },
];

interface StateRow {
  inode: string;
  mtime: string;
  size: number;
  md5: string;
}

export class StateCache {
  private rows: Map<string, StateRow> | undefined;
  private loading: Promise<Map<string, StateRow>> | undefined;
  private readonly pending = new Map<string, FileHash>();

  private constructor(private readonly db: SqlDriver | undefined) {}

  /** Opens (or creates) the state file; a file that cannot be opened is replaced. `undefined` keeps state in memory only. */
  static async open(file: string | undefined): Promise<StateCache> {
    if (file === undefined) return new StateCache(undefined);
    try {
      return new StateCache(await openSqliteFile(file, MIGRATIONS));
    } catch {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
      return new StateCache(await openSqliteFile(file, MIGRATIONS));
    }
  }

  /** Loads the table once, on first use. */
  private load(): Promise<Map<string, StateRow>> {
    this.loading ??= (async () => {
      const all = this.db ? await this.db.all<StateRow>("SELECT inode, mtime, size, md5 FROM state") : [];
      this.rows = new Map(all.map((r) => [r.inode, r]));
      for (const [k, v] of this.pending) this.rows.set(k, v);
      return this.rows;
    })();
    return this.loading;
  }

  /** The md5s recorded for files with these inodes, sizes and mtimes (`undefined` where none matches). */
  async lookup(stats: readonly { inode: string; size: number; mtime: string }[]): Promise<(string | undefined)[]> {
    const rows = await this.load();
    return stats.map((s) => {
      const row = rows.get(s.inode);
      return row && row.mtime === s.mtime && Number(row.size) === s.size ? row.md5 : undefined;
    });
  }

  /** Records a file's hash; written on {@link flush}. */
  record(h: FileHash): void {
    this.pending.set(h.inode, h);
    this.rows?.set(h.inode, h);
  }

  async flush(): Promise<void> {
    if (!this.db || this.pending.size === 0) return;
    const now = Date.now();
    const rows = [...this.pending.values()].map((h) => [h.inode, h.mtime, h.size, h.md5, now] as const);
    this.pending.clear();
    await this.db.runMany("INSERT OR REPLACE INTO state (inode, mtime, size, md5, checked_at) VALUES (?, ?, ?, ?, ?)", rows);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.db?.close();
  }
}
