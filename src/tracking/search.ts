import { invalidParameter } from "../api/errors.js";
import type { ExperimentQueryCompiler } from "./experiments.js";

/**
 * The search language (filter strings and order_by clauses) compiled to SQL.
 * TODO(runs-search): full grammar; this first cut accepts no filter.
 */
export const compileExperimentSearch: ExperimentQueryCompiler = (filter, orderBy) => {
  if (filter && filter.trim() !== "") throw invalidParameter(`Unsupported filter '${filter}'`);
  if (orderBy && orderBy.length > 0) throw invalidParameter(`Unsupported order_by '${orderBy.join(", ")}'`);
  return { where: "1 = 1", params: [], order: "e.experiment_id ASC" };
};
