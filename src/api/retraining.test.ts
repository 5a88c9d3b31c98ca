import { describe, expect, it } from "vitest";
import type { DeploymentRecord } from "../retraining/index.js";
import { servedVersions } from "./retraining.js";

const record = (state: DeploymentRecord["state"], spec: unknown, context: Record<string, unknown> = {}): DeploymentRecord => ({ name: "d", state, context, revision: 1, spec, createdAt: 0, updatedAt: 0 });

describe("servedVersions", () => {
  it("serves the champion alone outside a canary, its version from the registry's alias", () => {
    expect(servedVersions(record("refused", { model: { name: "m", alias: "prod" } }, { candidate_version: "3" }), { prod: "2" })).toEqual([
      { role: "champion", alias: "prod", version: "2", share: 1, mode: "serving" },
    ]);
    expect(servedVersions(record("serving", null), {})).toEqual([{ role: "champion", alias: "champion", version: null, share: 1, mode: "serving" }]);
  });
  it("splits the traffic during a canary and mirrors it in shadow", () => {
    const spec = (mode: string) => ({ model: { name: "m", alias: "champion" }, rollout: { mode, share: 0.25, challengerAlias: "cand" } });
    expect(servedVersions(record("canary", spec("canary"), { candidate_version: "3", champion_version: "2" }), { champion: "2", cand: "3" })).toEqual([
      { role: "champion", alias: "champion", version: "2", share: 0.75, mode: "canary" },
      { role: "challenger", alias: "cand", version: "3", share: 0.25, mode: "canary" },
    ]);
    expect(servedVersions(record("canary", spec("shadow"), { candidate_version: "3" }), { champion: "2" })).toEqual([
      { role: "champion", alias: "champion", version: "2", share: 1, mode: "serving" },
      { role: "challenger", alias: "cand", version: "3", share: 0, mode: "shadow", shadow_share: 1 },
    ]);
  });
});
