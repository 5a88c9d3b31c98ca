import { createRequire } from "node:module";
import type MimeTypes from "mime-types";

/**
 * Extensions (or whole names, for files without one) that MLflow serves as
 * text/plain, matched case-sensitively as MLflow does: MLflow's own list, so
 * it stays here rather than in a MIME database.
 */
const TEXT = new Set([
  "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon", "toml", "yaml", "yml",
  "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "ipynb", "MLmodel", "MLproject",
]);

/** Where mime-db answers differently from what the server has always sent (`audio/x-wav` is also MLflow's answer; mime-db has no `.tgz`). */
const KEPT: Record<string, string> = {
  wav: "audio/x-wav",
  tgz: "application/gzip",
};

let mimeTypes: typeof MimeTypes | undefined;

/** mime-types indexes all of mime-db when it loads: that happens on the first download, not at server start-up. */
function lookup(fileName: string): string | false {
  mimeTypes ??= createRequire(import.meta.url)("mime-types") as typeof MimeTypes;
  return mimeTypes.lookup(fileName);
}

/** The Content-Type MLflow's server would send for an artifact with this name. */
export function guessContentType(fileName: string): string {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  const ext = dot > 0 ? base.slice(dot + 1) : base;
  if (TEXT.has(ext)) return "text/plain";
  if (dot <= 0) return "application/octet-stream";
  return KEPT[ext.toLowerCase()] ?? (lookup(base) || "application/octet-stream");
}
