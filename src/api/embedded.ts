import { loadServerConfig } from "../config.js";
import type { EmbeddedServerStarter } from "../projects/index.js";
import { buildApp } from "./app.js";

/**
 * An in-process server on 127.0.0.1 and a free port, without the UI: what
 * `mloop run` (and later `mloop repro`) records into when the tracking URI
 * names a store instead of a server.
 */
export const startEmbeddedServer: EmbeddedServerStarter = async ({ backendStoreUri, cwd, env }) => {
  const config = { ...loadServerConfig({ backendStoreUri, host: "127.0.0.1", port: 0, ui: false }, env, cwd), host: "127.0.0.1", port: 0, ui: false };
  const app = await buildApp(config, { logger: false });
  const uri = await app.listen({ host: "127.0.0.1", port: 0 });
  return { uri, close: () => app.close() };
};
