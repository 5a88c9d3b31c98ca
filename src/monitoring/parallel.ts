/**
 * Profiles a reference file and a current file on two worker threads at once
 * (the batch report's hot path: parsing and sorting are per file; CSV and
 * Parquet alike). Falls back to one thread where the compiled worker is not
 * available (running from the TypeScript sources, as the tests do).
 */
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { MlflowError } from "../errors.js";
import { readTable } from "./files.js";
import { buildProfile, profileLike, type ColumnKind, type Profile, type ProfileOptions } from "./profile.js";

const WORKER = fileURLToPath(new URL("./profile-worker.js", import.meta.url));

interface Message {
  type: "kinds" | "profile" | "ready" | "error";
  kinds?: Record<string, ColumnKind>;
  profile?: Profile;
  message?: string;
  code?: string;
}

function fail(m: Message): Error {
  return m.code ? new MlflowError(m.code as ConstructorParameters<typeof MlflowError>[0], m.message ?? "") : new Error(m.message);
}

/**
 * The reference profile and the current profile (with the reference's column kinds) of two files.
 *
 * @example
 * ```ts
 * const { reference, current } = await profileFilePair("train.csv", "today.csv");
 * ```
 */
export async function profileFilePair(referenceFile: string, currentFile: string, opts: ProfileOptions = {}): Promise<{ reference: Profile; current: Profile }> {
  // two threads pay for themselves past a few tens of MB of text (a few MB of Parquet, which is compressed);
  // below that a worker's start-up costs more than it saves
  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size * (/\.parquet$/i.test(f) ? 8 : 1) : 0);
  if (!fs.existsSync(WORKER) || size(referenceFile) + size(currentFile) < 32 << 20) {
    const reference = buildProfile(await readTable(referenceFile), opts);
    return { reference, current: profileLike(await readTable(currentFile), reference) };
  }
  const ref = new Worker(WORKER, { workerData: { file: referenceFile, role: "reference", opts } });
  const cur = new Worker(WORKER, { workerData: { file: currentFile, role: "current", opts: {} } });
  try {
    return await new Promise((resolve, reject) => {
      let kinds: Record<string, ColumnKind> | undefined;
      let curReady = false;
      let reference: Profile | undefined;
      let current: Profile | undefined;
      const send = () => {
        if (kinds && curReady) cur.postMessage({ kinds });
      };
      const done = () => {
        if (reference && current) resolve({ reference, current });
      };
      ref.on("message", (m: Message) => {
        if (m.type === "error") return reject(fail(m));
        if (m.type === "kinds") {
          kinds = m.kinds!;
          send();
        } else if (m.type === "profile") {
          reference = m.profile!;
          done();
        }
      });
      cur.on("message", (m: Message) => {
        if (m.type === "error") return reject(fail(m));
        if (m.type === "ready") {
          curReady = true;
          send();
        } else if (m.type === "profile") {
          current = m.profile!;
          done();
        }
      });
      for (const w of [ref, cur]) {
        w.on("error", reject);
        w.on("exit", (code) => {
          if (code !== 0) reject(new Error(`a profiling worker stopped with code ${code}`));
        });
      }
    });
  } finally {
    void ref.terminate();
    void cur.terminate();
  }
}
