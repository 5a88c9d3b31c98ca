/**
 * A worker thread that reads one data file and profiles it, so the reference
 * and the current file of a batch report are parsed on two cores at once
 * (`profileFilePair` in parallel.ts). CSV, TSV, JSON and Parquet alike. The reference side posts the column
 * kinds it inferred as soon as it has them; the current side waits for them.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readTable } from "./files.js";
import { buildProfile, inferKind, profileColumn, type ColumnKind, type Profile, type ProfileOptions } from "./profile.js";

interface Job {
  file: string;
  role: "reference" | "current";
  opts: ProfileOptions;
}

function transferables(p: Profile): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const c of p.columns.values()) if (c.kind === "numerical") out.push(c.dist.values.buffer as ArrayBuffer, c.dist.counts.buffer as ArrayBuffer);
  return out;
}

const job = workerData as Job;
const port = parentPort!;
try {
  const table = await readTable(job.file);
  if (job.role === "reference") {
    const kinds: Record<string, ColumnKind> = {};
    const wanted = job.opts.columns ? new Set(job.opts.columns) : undefined;
    for (const b of table.data) if (!wanted || wanted.has(b.name)) kinds[b.name] = job.opts.kinds?.[b.name] ?? inferKind(b);
    port.postMessage({ type: "kinds", kinds });
    const profile = buildProfile(table, { ...job.opts, kinds });
    port.postMessage({ type: "profile", profile }, transferables(profile));
  } else {
    port.once("message", (msg: { kinds: Record<string, ColumnKind> }) => {
      const columns = new Map<string, ReturnType<typeof profileColumn>>();
      const byName = new Map(table.data.map((b) => [b.name, b]));
      for (const [name, kind] of Object.entries(msg.kinds)) {
        const b = byName.get(name);
        if (b) columns.set(name, profileColumn(b, kind));
      }
      for (const b of table.data) if (!(b.name in msg.kinds)) columns.set(b.name, profileColumn(b, inferKind(b)));
      const profile: Profile = { rows: table.rows, columns, createdAt: Date.now() };
      port.postMessage({ type: "profile", profile }, transferables(profile));
    });
    port.postMessage({ type: "ready" });
  }
} catch (err) {
  port.postMessage({ type: "error", message: (err as Error).message, code: (err as { errorCode?: string }).errorCode });
}
