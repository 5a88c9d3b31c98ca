import fs from "node:fs/promises";
import type { Command } from "commander";
import { CliError } from "./errors.js";
import { clientFor, oneLineErrors, formatBytes, out, paint, printJson, printTable, transferProgress, withCommonOptions, withExamples, type CommonOptions } from "./output.js";

interface ArtifactOptions extends CommonOptions {
  runId: string;
  artifactPath?: string;
}

export function registerArtifactsCommand(program: Command): void {
  const group = oneLineErrors(program.command("artifacts")).description("List, download and upload run artifacts through the tracking server");
  withExamples(group, "mloop artifacts list -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60");

  withExamples(
    withCommonOptions(
      group
        .command("list")
        .description("List one folder of a run's artifacts (the root by default)")
        .requiredOption("-r, --run-id <id>", "run id")
        .option("-a, --artifact-path <path>", "folder inside the run's artifacts"),
    ),
    "mloop artifacts list -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60 -a model",
  ).action(async (opts: ArtifactOptions) => {
    const client = clientFor(opts);
    const files = await client.listArtifacts(opts.runId, opts.artifactPath);
    if (opts.json) return printJson(files);
    printTable(
      ["PATH", "SIZE"],
      files.map((f) => [f.is_dir ? paint("cyan", `${f.path}/`) : f.path, f.is_dir ? "" : formatBytes(f.file_size)]),
    );
  });

  withExamples(
    withCommonOptions(
      group
        .command("download")
        .description("Download an artifact file or folder (all artifacts by default) and print where it went")
        .requiredOption("-r, --run-id <id>", "run id")
        .option("-a, --artifact-path <path>", "file or folder inside the run's artifacts")
        .option("-d, --dst-path <dir>", "local folder to download into (default: the current folder)"),
    ),
    "mloop artifacts download -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60 -a model -d ./downloaded",
  ).action(async (opts: ArtifactOptions & { dstPath?: string }) => {
    const client = clientFor(opts);
    const progress = transferProgress("downloading");
    let local: string;
    try {
      local = await client.downloadArtifacts(opts.runId, opts.artifactPath ?? "", opts.dstPath ?? ".", { onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    if (opts.json) printJson({ local_path: local });
    else out(local);
  });

  withExamples(
    withCommonOptions(
      group
        .command("log")
        .description("Upload a local file or folder to a run's artifacts")
        .argument("<local-path>", "file or folder to upload")
        .requiredOption("-r, --run-id <id>", "run id")
        .option("-a, --artifact-path <path>", "folder inside the run's artifacts to upload into"),
    ),
    "mloop artifacts log -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60 ./plots -a plots",
  ).action(async (localPath: string, opts: ArtifactOptions) => {
    const st = await fs.stat(localPath).catch(() => undefined);
    if (!st) throw new CliError(`'${localPath}' does not exist`);
    if (!st.isFile() && !st.isDirectory()) throw new CliError(`'${localPath}' is neither a file nor a folder`);
    const client = clientFor(opts);
    const progress = transferProgress("uploading");
    try {
      if (st.isDirectory()) await client.logArtifacts(opts.runId, localPath, opts.artifactPath, { onProgress: progress.onProgress });
      else await client.logArtifact(opts.runId, localPath, opts.artifactPath, { onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
    if (opts.json) printJson({ run_id: opts.runId, local_path: localPath, artifact_path: opts.artifactPath ?? "" });
    else out(`Logged ${localPath} to run ${opts.runId}${opts.artifactPath ? ` under ${opts.artifactPath}` : ""}`);
  });
}
