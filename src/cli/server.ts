import type { Command } from "commander";
import { loadServerConfig } from "../config.js";

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .description("Run the MLflow-compatible tracking server, model registry and web UI")
    .option("-h, --host <host>", "network address to listen on (MLOOP_HOST)")
    .option("-p, --port <port>", "port to listen on (MLOOP_PORT)")
    .option("--backend-store-uri <uri>", "sqlite:///path.db or postgresql://… (MLOOP_BACKEND_STORE_URI); default sqlite:///mlruns.db")
    .option("--artifacts-destination <uri>", "where proxied artifacts are stored: a folder or s3://bucket/prefix (MLOOP_ARTIFACTS_DESTINATION); default ./mlartifacts")
    .option("--default-artifact-root <uri>", "artifact root recorded on new experiments (MLOOP_DEFAULT_ARTIFACT_ROOT); default mlflow-artifacts:/")
    .option("--serve-artifacts", "proxy artifact uploads and downloads through the server (the default)")
    .option("--no-serve-artifacts", "do not proxy artifacts; clients write to the artifact root themselves")
    .option("--webhook-allow <hosts>", "comma-separated hosts (host or host:port) webhooks may target even on loopback/private networks (MLOOP_WEBHOOK_ALLOW_LIST)")
    .option("--no-ui", "do not serve the web UI")
    .option("--auth", "require sign-in: users, tokens and per-experiment / per-model permissions (MLOOP_AUTH); see docs/auth.md")
    .option("--log-level <level>", "fatal, error, warn, info, debug (MLOOP_LOG_LEVEL)")
    .addHelpText("after", "\nExample:\n  mloop server --port 5000 --backend-store-uri sqlite:///mlruns.db\n  MLOOP_AUTH_ADMIN_PASSWORD=… mloop server --auth\n")
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const src = (name: string) => cmd.getOptionValueSource(name);
      const config = loadServerConfig({
        host: opts.host as string | undefined,
        port: opts.port as string | undefined,
        backendStoreUri: opts.backendStoreUri as string | undefined,
        artifactsDestination: opts.artifactsDestination as string | undefined,
        defaultArtifactRoot: opts.defaultArtifactRoot as string | undefined,
        serveArtifacts: src("serveArtifacts") === "cli" ? (opts.serveArtifacts as boolean) : undefined,
        webhookAllowList: typeof opts.webhookAllow === "string" ? opts.webhookAllow.split(",").map((s) => s.trim()).filter(Boolean) : undefined,
        ui: src("ui") === "cli" ? (opts.ui as boolean) : undefined,
        logLevel: opts.logLevel as string | undefined,
        auth: opts.auth === true ? true : undefined,
      });
      // Loaded on demand so other commands start without Fastify and the stores.
      const { buildApp } = await import("../api/index.js");
      const app = await buildApp(config);
      const address = await app.listen({ host: config.host, port: config.port });
      process.stderr.write(`mloop server listening at ${address} (store ${redact(config.backendStoreUri)}, artifacts ${config.artifactsDestination}${config.auth.enabled ? ", auth on" : ""})\n`);
      const stop = async () => {
        await app.close();
        process.exit(0);
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}

/** Hides a password in a database URI before printing it. */
export function redact(uri: string): string {
  return uri.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
