/**
 * The executable's entry: takes the lean path for the few commands that must answer at once
 * (`mloop data status`), and loads the full CLI (`index.ts`) for everything else.
 */
import { leanStatusArgs, runLeanStatus } from "./data-status.js";

export async function main(argv: string[]): Promise<void> {
  const status = leanStatusArgs(argv.slice(2));
  if (status) return runLeanStatus(status);
  return (await import("./index.js")).main(argv);
}
