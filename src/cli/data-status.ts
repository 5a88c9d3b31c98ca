/**
 * `mloop data status` as its own light module: the printing shared with `data.ts`, and the lean
 * path `entry.ts` takes for the common forms (`mloop data status [targets…] [--json] [--cd DIR]`)
 * before the rest of the CLI (commander and every command group) is loaded, so a status check
 * with nothing changed costs little more than node's own start and the walk of the workspace.
 */
import { MlflowError } from "../errors.js";
import type { DataRepo, StatusEntry } from "../data/index.js";

function write(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

/** DVC's status text (or, with `json`, its JSON shape: `{dvcfile: [{"changed outs": {path: state}}]}`). */
export function printStatus(entries: StatusEntry[], json: boolean | undefined, clean: string): void {
  if (json) {
    const byFile: Record<string, { "changed outs": Record<string, string> }[]> = {};
    for (const e of entries) (byFile[e.dvcFile] ??= [{ "changed outs": {} }])[0]!["changed outs"][e.path] = e.state;
    return write(JSON.stringify(byFile, null, 2));
  }
  if (entries.length === 0) return write(clean);
  let last = "";
  for (const e of entries) {
    if (e.dvcFile !== last) write(`${e.dvcFile}:\n\tchanged outs:`);
    last = e.dvcFile;
    write(`\t\t${(e.state + ":").padEnd(20)}${e.path}`);
  }
}

export const CLEAN_WORKSPACE = "Data and pipelines are up to date.";

/**
 * The arguments of a plain workspace status (`data status`, then targets, `--json`, `--cd DIR`),
 * or `undefined` for anything else (help, `-c`, unknown flags), which the full CLI handles.
 */
export function leanStatusArgs(args: readonly string[]): { targets: string[]; json: boolean; cd?: string } | undefined {
  if (args[0] !== "data" || args[1] !== "status") return undefined;
  const targets: string[] = [];
  let json = false;
  let cd: string | undefined;
  for (let i = 2; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") json = true;
    else if (a === "--cd" && i + 1 < args.length && !args[i + 1]!.startsWith("-")) cd = args[++i];
    else if (a.startsWith("-")) return undefined;
    else targets.push(a);
  }
  return { targets, json, cd };
}

/** Runs a plain workspace status; errors are one line on stderr and exit code 1, as in the full CLI. */
export async function runLeanStatus(opts: { targets: string[]; json: boolean; cd?: string }): Promise<void> {
  const data = await import("../data/index.js");
  const cwd = opts.cd ?? process.cwd();
  let repo: DataRepo | undefined;
  try {
    repo = data.DataRepo.open(cwd);
    printStatus(await repo.status(opts.targets, cwd), opts.json, CLEAN_WORKSPACE);
  } catch (err) {
    const message = err instanceof MlflowError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`mloop: ${message.split("\n")[0]}\n`);
    process.exitCode = 1;
  } finally {
    await repo?.close();
  }
}
