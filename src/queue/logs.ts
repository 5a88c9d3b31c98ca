import { Redis } from "ioredis";
import type { QueueConfig } from "../config.js";

/**
 * A run's output travels through a Redis stream, one entry per line, so the
 * submitter can follow it live from any machine; a final entry carries the
 * run's end status. Streams expire a week after their last line.
 */
export function logStreamKey(config: QueueConfig, runId: string): string {
  return `${config.queueName}:logs:${runId}`;
}

const RETAIN_SECONDS = 7 * 24 * 3600;
const MAX_LINES = 100_000;

export type EndStatus = "FINISHED" | "FAILED" | "KILLED";

export class LogWriter {
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  /** Appends a line; writes keep their order and never throw into the caller. */
  line(text: string): void {
    this.pending = this.pending
      .then(() => this.redis.multi().xadd(this.key, "MAXLEN", "~", String(MAX_LINES), "*", "line", text).expire(this.key, RETAIN_SECONDS).exec())
      .catch(() => undefined);
  }

  /** Marks the end of the run's output with its final status. */
  async end(status: EndStatus, reason?: string): Promise<void> {
    await this.flush();
    await this.redis
      .multi()
      .xadd(this.key, "*", "end", status, "reason", reason ?? "")
      .expire(this.key, RETAIN_SECONDS)
      .exec()
      .catch(() => undefined);
  }

  flush(): Promise<unknown> {
    return this.pending;
  }
}

/** Every line written so far, oldest first (for the run's log artifact). */
export async function readLog(redis: Redis, key: string): Promise<string[]> {
  const entries = await redis.xrange(key, "-", "+");
  const lines: string[] = [];
  for (const [, fields] of entries) {
    const f = fieldsOf(fields);
    if (f.line !== undefined) lines.push(f.line);
  }
  return lines;
}

function fieldsOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/**
 * Follows a run's output from its first line until its end entry; returns the
 * end status. `signal` stops following early (returns undefined).
 */
export async function followLog(
  redis: Redis,
  key: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ status: EndStatus; reason: string } | undefined> {
  let last = "0";
  while (!signal?.aborted) {
    const res = (await redis.xread("COUNT", 500, "BLOCK", 1000, "STREAMS", key, last)) as [string, [string, string[]][]][] | null;
    if (!res) continue;
    for (const [, entries] of res) {
      for (const [id, fields] of entries) {
        last = id;
        const f = fieldsOf(fields);
        if (f.line !== undefined) onLine(f.line);
        if (f.end !== undefined) return { status: f.end as EndStatus, reason: f.reason ?? "" };
      }
    }
  }
  return undefined;
}
