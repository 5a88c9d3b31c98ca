/**
 * `mloop data …`: DVC-compatible data versioning on the repository around the
 * current folder (or `--cd DIR`). Errors are one line naming the file or the
 * remote; progress bars appear on a terminal for work over a second.
 */
import type { Command } from "commander";
import { MlflowError } from "../errors.js";
import type { DataRepo, Phase, RepoOptions } from "../data/index.js";

// loaded when a data command runs, not on every start of the CLI
async function dataRepo(): Promise<typeof DataRepo> {
  return (await import("../data/index.js")).DataRepo;
}
import { CliError } from "./errors.js";
import { CLEAN_WORKSPACE, printStatus } from "./data-status.js";
import { formatBytes, oneLineErrors, out, paint, positiveInt, printJson, printTable, transferProgress, withExamples } from "./output.js";

interface DataOptions {
  cd?: string;
  json?: boolean;
  jobs?: number;
  remote?: string;
}

function withRepoOptions(cmd: Command, { json = true, jobs = false, remote = false } = {}): Command {
  cmd.option("--cd <dir>", "work in this folder instead of the current one");
  if (json) cmd.option("--json", "print machine-readable JSON");
  if (jobs) cmd.option("-j, --jobs <n>", "parallel transfers", positiveInt("--jobs"));
  if (remote) cmd.option("-r, --remote <name>", "remote to use (default: core.remote)");
  return cmd;
}

/** One bar per phase, shown only on a terminal once the phase has taken a second. */
function progressBars(): { onProgress: RepoOptions["onProgress"]; stop: () => void } {
  let phase: Phase | undefined;
  let bar: ReturnType<typeof transferProgress> | undefined;
  return {
    onProgress: (p, progress) => {
      if (p !== phase) {
        bar?.stop();
        phase = p;
        bar = transferProgress(p);
      }
      bar!.onProgress(progress);
    },
    stop: () => bar?.stop(),
  };
}

/** Runs a command on the repository; domain errors become one plain line. */
async function withRepo<T>(opts: DataOptions, fn: (repo: DataRepo, cwd: string) => Promise<T>): Promise<T> {
  const cwd = opts.cd ?? process.cwd();
  const bars = progressBars();
  let repo: DataRepo | undefined;
  try {
    repo = (await dataRepo()).open(cwd, { jobs: opts.jobs, onProgress: bars.onProgress });
    return await fn(repo, cwd);
  } catch (err) {
    throw plain(err);
  } finally {
    bars.stop();
    await repo?.close();
  }
}

function plain(err: unknown): unknown {
  return err instanceof MlflowError ? new CliError(err.message) : err;
}

export function registerDataCommand(program: Command): void {
  const group = oneLineErrors(program.command("data")).description("Version data in DVC's formats: .dvc files, the md5 cache, remotes");
  withExamples(group, "mloop data init && mloop data add data/ && git add data.dvc .gitignore", "mloop data remote add -d storage s3://bucket/dvc && mloop data push");

  withExamples(
    group
      .command("init")
      .description("Make the current folder a DVC repository (.dvc/, .dvcignore)")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("--no-scm", "the folder is not in git: no .gitignore entries")
      .option("-f, --force", "reinitialize an existing repository"),
    "git init && mloop data init",
  ).action(async (opts: { cd?: string; scm: boolean; force?: boolean }) => {
    try {
      const repo = (await dataRepo()).init(opts.cd ?? process.cwd(), { noScm: !opts.scm, force: opts.force });
      out(`Initialized a DVC repository in ${repo.root}`);
    } catch (err) {
      throw plain(err);
    }
  });

  withExamples(
    withRepoOptions(group.command("add").description("Track files or folders: hash them, store them in the cache, write their .dvc files").argument("<targets...>", "files or folders")),
    "mloop data add data/images models/model.onnx",
  ).action((targets: string[], opts: DataOptions) =>
    withRepo(opts, async (repo, cwd) => {
      const added = await repo.add(targets, cwd);
      if (opts.json) return printJson(added);
      for (const a of added) out(`Added ${a.path} (${a.isDir ? `${a.nfiles} files, ` : ""}${formatBytes(a.size)}) → ${a.dvcFile}`);
      const files = added.map((a) => a.dvcFile).join(" ");
      if (!opts.json) out(paint("dim", `To track the changes with git, run:\n\tgit add ${files} .gitignore`));
    }),
  );

  withExamples(
    withRepoOptions(
      group
        .command("status")
        .description("Show tracked data that differs from its .dvc file or the cache (with -c: from the remote)")
        .argument("[targets...]", "files, folders or .dvc files (default: all)")
        .option("-c, --cloud", "compare the cache with the remote instead"),
      { remote: true, jobs: true },
    ),
    "mloop data status",
    "mloop data status -c -r storage --json",
  ).action((targets: string[], opts: DataOptions & { cloud?: boolean }) =>
    withRepo(opts, async (repo, cwd) => {
      if (opts.cloud) return printStatus(await repo.remoteStatus(targets, opts.remote, cwd), opts.json, "Cache and remote are in sync.");
      printStatus(await repo.status(targets, cwd), opts.json, CLEAN_WORKSPACE);
    }),
  );

  withExamples(
    withRepoOptions(group.command("commit").description("Record the current content of tracked data in its .dvc files and the cache").argument("[targets...]", "files, folders or .dvc files (default: all)")),
    "mloop data commit data/images",
  ).action((targets: string[], opts: DataOptions) =>
    withRepo(opts, async (repo, cwd) => {
      const changed = await repo.commit(targets, cwd);
      if (opts.json) return printJson(changed);
      out(changed.length === 0 ? "Nothing to commit." : changed.map((c) => `Committed ${c.path} → ${c.dvcFile}`).join("\n"));
    }),
  );

  withExamples(
    withRepoOptions(group.command("checkout").description("Make the workspace match the .dvc files, from the cache").argument("[targets...]", "files, folders or .dvc files (default: all)")),
    "mloop data checkout",
  ).action((targets: string[], opts: DataOptions) =>
    withRepo(opts, async (repo, cwd) => {
      const r = await repo.checkout(targets, cwd);
      if (opts.json) return printJson(r);
      printChanges(r);
    }),
  );

  for (const verb of ["push", "fetch", "pull"] as const) {
    const what = {
      push: "Upload the cache objects of tracked data that the remote lacks",
      fetch: "Download into the cache the objects of tracked data that it lacks",
      pull: "Fetch, then check out",
    }[verb];
    withExamples(
      withRepoOptions(group.command(verb).description(what).argument("[targets...]", "files, folders or .dvc files (default: all)"), { remote: true, jobs: true }),
      `mloop data ${verb} -r storage`,
    ).action((targets: string[], opts: DataOptions) =>
      withRepo(opts, async (repo, cwd) => {
        const r = await repo[verb](targets, opts.remote, cwd);
        if (opts.json) return printJson(r);
        const noun = verb === "push" ? "pushed" : "fetched";
        out(`${r.transferred} file(s) ${noun}${r.skipped ? `, ${r.skipped} already there` : ""}`);
        if (verb === "pull") printChanges(r as unknown as Parameters<typeof printChanges>[0], true);
      }),
    );
  }

  withExamples(
    withRepoOptions(
      group
        .command("gc")
        .description("Remove cache objects that no .dvc file of the workspace uses")
        .option("-w, --workspace", "keep what the workspace uses (the default, as with dvc gc -w)")
        .option("-c, --cloud", "also remove those objects from the remote"),
      { remote: true, jobs: true },
    ),
    "mloop data gc -w",
  ).action((opts: DataOptions & { cloud?: boolean }) =>
    withRepo(opts, async (repo) => {
      const r = await repo.gc({ cloud: opts.cloud, remoteName: opts.remote });
      if (opts.json) return printJson(r);
      out(`Removed ${r.removed} object(s) from the cache${opts.cloud ? ` and ${r.removedFromRemote} from the remote` : ""}`);
    }),
  );

  withExamples(
    withRepoOptions(group.command("ls").description("List tracked data, or the files of one tracked folder").argument("[target]", "a tracked folder")),
    "mloop data ls",
    "mloop data ls data/images --json",
  ).action((target: string | undefined, opts: DataOptions) =>
    withRepo(opts, async (repo, cwd) => {
      if (target !== undefined) {
        const files = repo.listFolder(target, cwd);
        if (opts.json) return printJson(files);
        return printTable(["PATH", "MD5"], files.map((f) => [f.relpath, f.md5]));
      }
      const outs = repo.tracked();
      if (opts.json) return printJson(outs);
      printTable(["PATH", "MD5", "SIZE", "FILES", "DVC FILE"], outs.map((o) => [o.isDir ? paint("cyan", `${o.path}/`) : o.path, o.md5 ?? "-", formatBytes(o.size), o.nfiles === undefined ? "" : String(o.nfiles), o.dvcFile]));
    }),
  );

  registerRemoteCommands(group);
}

function printChanges(r: { added: string[]; modified: string[]; deleted: string[] }, quietWhenNone = false): void {
  for (const p of r.added) out(`${paint("green", "A")}\t${p}`);
  for (const p of r.modified) out(`${paint("yellow", "M")}\t${p}`);
  for (const p of r.deleted) out(`${paint("red", "D")}\t${p}`);
  if (!quietWhenNone && r.added.length + r.modified.length + r.deleted.length === 0) out("Everything is up to date.");
}

function registerRemoteCommands(group: Command): void {
  const remote = group.command("remote").description("Configure remotes in .dvc/config (or .dvc/config.local with --local)");
  withExamples(remote, "mloop data remote add -d storage /mnt/dvc-store");

  withExamples(
    withRepoOptions(
      remote
        .command("add")
        .description("Add a remote: a local folder or s3://bucket/prefix")
        .argument("<name>")
        .argument("<url>")
        .option("-d, --default", "make it the default remote")
        .option("--local", "write to .dvc/config.local (not committed)")
        .option("-f, --force", "overwrite a remote of that name"),
      { json: false },
    ),
    "mloop data remote add -d storage s3://my-bucket/dvc",
  ).action((name: string, url: string, opts: DataOptions & { default?: boolean; local?: boolean; force?: boolean }) =>
    withRepo(opts, async (repo, cwd) => {
      repo.addRemote(name, url, { isDefault: opts.default, local: opts.local, force: opts.force, cwd });
      out(opts.default ? `Setting '${name}' as a default remote.` : `Added remote '${name}'.`);
    }),
  );

  withExamples(
    withRepoOptions(
      remote
        .command("modify")
        .description("Set an option of a remote (endpointurl, region, access_key_id, …)")
        .argument("<name>")
        .argument("<option>")
        .argument("<value>")
        .option("--local", "write to .dvc/config.local (not committed)"),
      { json: false },
    ),
    "mloop data remote modify storage endpointurl http://127.0.0.1:9000",
  ).action((name: string, key: string, value: string, opts: DataOptions & { local?: boolean }) =>
    withRepo(opts, async (repo) => {
      repo.modifyRemote(name, key, value, { local: opts.local });
    }),
  );

  withExamples(withRepoOptions(remote.command("list").description("List remotes")), "mloop data remote list").action((opts: DataOptions) =>
    withRepo(opts, async (repo) => {
      const all = repo.remotes();
      if (opts.json) return printJson(all.map((r) => ({ name: r.name, url: r.url, default: r.isDefault })));
      for (const r of all) out(`${r.name}\t${r.url}${r.isDefault ? "\t(default)" : ""}`);
    }),
  );

  withExamples(
    withRepoOptions(
      remote
        .command("default")
        .description("Show or set the default remote")
        .argument("[name]")
        .option("-u, --unset", "unset the default remote")
        .option("--local", "write to .dvc/config.local (not committed)"),
      { json: false },
    ),
    "mloop data remote default storage",
  ).action((name: string | undefined, opts: DataOptions & { unset?: boolean; local?: boolean }) =>
    withRepo(opts, async (repo) => {
      if (opts.unset) return repo.setDefaultRemote(undefined, opts.local);
      if (name === undefined) {
        const def = repo.setting("core", "remote");
        if (!def) throw new CliError("no default remote is set");
        return out(def);
      }
      repo.setDefaultRemote(name, opts.local);
    }),
  );
}
