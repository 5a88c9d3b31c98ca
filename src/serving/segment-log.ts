/**
 * An append-only log of JSON lines in segment files, written in batches off
 * the request path. `append` resolves once the line is in the operating
 * system's hands (it survives `kill -9` of the server); `fsync` runs on a timer
 * (or after every batch, for feedback) so a machine crash loses at most that
 * interval. Memory is bounded: past `maxPendingBytes` a line waits (for at
 * most `maxWaitMs`) or is dropped, and drops are counted.
 */
import fs from "node:fs";
import path from "node:path";

export interface SegmentLogOptions {
  dir: string;
  /** File name prefix: `<prefix>-<start ms>-<pid>-<n>.jsonl`. */
  prefix: string;
  /** A new segment starts past this size. */
  maxSegmentBytes?: number;
  /** How often written lines are fsync'd; 0 fsyncs every batch before `append` resolves. */
  fsyncIntervalMs?: number;
  /** Lines waiting for the disk, in bytes, before back-pressure applies. */
  maxPendingBytes?: number;
  /** `wait`: hold the caller up to `maxWaitMs`, then drop; `drop`: drop at once. */
  overflow?: "wait" | "drop";
  maxWaitMs?: number;
  /** Called with the path of each segment once it is closed and fsync'd (a spool that ships segments elsewhere): rotated segments that hold lines, and the last one on close. */
  onSegmentClosed?: (file: string) => void;
}

export interface SegmentLogStats {
  written: number;
  dropped: number;
  pendingLines: number;
  pendingBytes: number;
  /** Age of the oldest line not yet written, in seconds (0 when none waits). */
  lagSeconds: number;
  segments: number;
}

interface Waiter {
  resolve(written: boolean): void;
}

export class SegmentLog {
  private fd = -1;
  private file = "";
  private rotateWanted = false;
  private segmentBytes = 0;
  private seq = 0;
  private queue: string[] = [];
  private queueWaiters: Waiter[] = [];
  private queueBytes = 0;
  private oldestQueuedAt = 0;
  private writing = false;
  private dirty = false;
  private blocked: (() => void)[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;
  private writingBytes = 0;
  private idle?: () => void;
  readonly stats: SegmentLogStats = { written: 0, dropped: 0, pendingLines: 0, pendingBytes: 0, lagSeconds: 0, segments: 0 };
  private readonly opts: Required<SegmentLogOptions>;

  constructor(opts: SegmentLogOptions) {
    this.opts = { maxSegmentBytes: 64 << 20, fsyncIntervalMs: 200, maxPendingBytes: 32 << 20, overflow: "wait", maxWaitMs: 1000, ...opts, onSegmentClosed: opts.onSegmentClosed ?? (() => {}) };
    fs.mkdirSync(this.opts.dir, { recursive: true });
    this.openSegment();
    if (this.opts.fsyncIntervalMs > 0) {
      this.timer = setInterval(() => this.syncNow(), this.opts.fsyncIntervalMs);
      this.timer.unref();
    }
  }

  private openSegment(): void {
    const name = `${this.opts.prefix}-${Date.now()}-${process.pid}-${this.seq++}.jsonl`;
    this.file = path.join(this.opts.dir, name);
    this.fd = fs.openSync(this.file, "a");
    this.segmentBytes = 0;
    this.stats.segments++;
  }

  /** The segment files of a log folder, oldest first (for readers). */
  static segments(dir: string, prefix: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const parse = (f: string) => f.slice(prefix.length + 1, -".jsonl".length).split("-").map(Number);
    return fs
      .readdirSync(dir)
      .filter((f) => f.startsWith(`${prefix}-`) && f.endsWith(".jsonl"))
      .sort((a, b) => {
        const [ta = 0, pa = 0, sa = 0] = parse(a);
        const [tb = 0, pb = 0, sb = 0] = parse(b);
        return ta - tb || pa - pb || sa - sb;
      })
      .map((f) => path.join(dir, f));
  }

  /**
   * Queues one JSON line; resolves `true` once it is written, `false` if it was dropped.
   *
   * @example
   * ```ts
   * await log.append(JSON.stringify({ request_id: "r1", status: 200 }));
   * ```
   */
  append(line: string): Promise<boolean> {
    if (this.closed) {
      this.stats.dropped++;
      return Promise.resolve(false);
    }
    const bytes = line.length + 1;
    if (this.queueBytes + this.writingBytes + bytes > this.opts.maxPendingBytes) {
      if (this.opts.overflow === "drop") {
        this.stats.dropped++;
        return Promise.resolve(false);
      }
      return this.waitForRoom().then((room) => {
        if (!room) {
          this.stats.dropped++;
          return false;
        }
        return this.append(line);
      });
    }
    return new Promise<boolean>((resolve) => {
      if (this.queue.length === 0) this.oldestQueuedAt = Date.now();
      this.queue.push(line);
      this.queueWaiters.push({ resolve });
      this.queueBytes += bytes;
      if (!this.writing) this.writeBatch();
    });
  }

  private waitForRoom(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => {
        const i = this.blocked.indexOf(wake);
        if (i >= 0) this.blocked.splice(i, 1);
        resolve(false);
      }, this.opts.maxWaitMs);
      const wake = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.blocked.push(wake);
    });
  }

  private writeBatch(): void {
    if (this.queue.length === 0) {
      this.writing = false;
      this.idle?.();
      return;
    }
    this.writing = true;
    const lines = this.queue;
    const waiters = this.queueWaiters;
    this.queue = [];
    this.queueWaiters = [];
    this.writingBytes = this.queueBytes;
    this.queueBytes = 0;
    const buf = Buffer.from(lines.join("\n") + "\n", "utf8");
    const done = (err: NodeJS.ErrnoException | null) => {
      this.writingBytes = 0;
      if (err) {
        this.stats.dropped += lines.length;
        for (const w of waiters) w.resolve(false);
      } else {
        this.stats.written += lines.length;
        this.segmentBytes += buf.length;
        this.dirty = true;
        for (const w of waiters) w.resolve(true);
      }
      for (const wake of this.blocked.splice(0)) wake();
      if (this.segmentBytes >= this.opts.maxSegmentBytes || this.rotateWanted) this.closeSegment(true);
      this.oldestQueuedAt = this.queue.length ? Date.now() : 0;
      this.writeBatch();
    };
    const writeAll = (offset: number) => {
      fs.write(this.fd, buf, offset, buf.length - offset, null, (err, n) => {
        if (err) return done(err);
        if (offset + n < buf.length) return writeAll(offset + n);
        if (this.opts.fsyncIntervalMs === 0) {
          fs.fdatasync(this.fd, (e) => {
            this.dirty = false;
            done(e);
          });
        } else done(null);
      });
    };
    writeAll(0);
  }

  /** Fsyncs and closes the current segment (handing it to `onSegmentClosed` if it holds lines); `reopen` starts the next one. */
  private closeSegment(reopen: boolean): void {
    this.rotateWanted = false;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
    this.dirty = false;
    const file = this.file;
    const held = this.segmentBytes > 0;
    if (reopen) this.openSegment();
    if (held || !reopen) this.opts.onSegmentClosed(file);
  }

  /** Closes the current segment now (or once the batch being written is done) and starts a new one; nothing happens to an empty segment. */
  rotate(): void {
    if (this.closed || this.segmentBytes === 0) return;
    if (this.writing) this.rotateWanted = true;
    else this.closeSegment(true);
  }

  private syncNow(): void {
    if (!this.dirty || this.fd < 0) return;
    this.dirty = false;
    fs.fdatasync(this.fd, () => {
      // a failed fsync shows on the next write
    });
  }

  /** Current counters, with the pending figures filled in. */
  snapshot(): SegmentLogStats {
    this.stats.pendingLines = this.queue.length;
    this.stats.pendingBytes = this.queueBytes + this.writingBytes;
    this.stats.lagSeconds = this.oldestQueuedAt && this.queue.length ? (Date.now() - this.oldestQueuedAt) / 1000 : 0;
    return { ...this.stats };
  }

  /** Writes what is queued, fsyncs and closes the segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.writing) await new Promise<void>((r) => (this.idle = r));
    if (this.fd >= 0) this.closeSegment(false);
  }
}

/**
 * Every parsable line of a log folder's segments, oldest first. A line cut
 * short by a machine crash is skipped.
 *
 * @example
 * ```ts
 * for (const rec of readSegmentLog("./mloop-predictions", "predictions")) console.log(rec.request_id);
 * ```
 */
export function* readSegmentLog<T = Record<string, unknown>>(dir: string, prefix: string): Generator<T> {
  for (const file of SegmentLog.segments(dir, prefix)) {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (!line) continue;
      try {
        yield JSON.parse(line) as T;
      } catch {
        // torn last line
      }
    }
  }
}
