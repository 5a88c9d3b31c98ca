/**
 * The `MLmodel` file of an MLflow model folder: its flavors, signature and
 * input example, read once when a model version is loaded.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { invalidParameter } from "../errors.js";

/** One column of a column-based signature (`{"type": "double", "name": "x", "required": true}`). */
export interface ColumnSpec {
  name?: string;
  /** MLflow's data type: double, float, long, integer, boolean, string, binary, datetime, or array/object/map. */
  type: string;
  required: boolean;
}

/** One tensor of a tensor-based signature. */
export interface TensorSpec {
  name?: string;
  dtype: string;
  shape: number[];
}

export type Schema = { kind: "columns"; columns: ColumnSpec[] } | { kind: "tensors"; tensors: TensorSpec[] };

export interface ModelMeta {
  dir: string;
  flavors: Record<string, Record<string, unknown>>;
  /** Input schema, when the model was logged with a signature. */
  inputs?: Schema;
  /** The model's `serving_input_example.json`, as a scoring request body, when one was saved. */
  servingInputExample?: string;
  modelId?: string;
  runId?: string;
  mlflowVersion?: string;
}

function parseSchema(raw: unknown, file: string): Schema | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  let specs: unknown;
  try {
    specs = typeof raw === "string" ? JSON.parse(raw) : raw;
  } catch {
    throw invalidParameter(`${file}: the signature's inputs are not valid JSON`);
  }
  if (!Array.isArray(specs) || specs.length === 0) return undefined;
  if (specs.every((s) => s && typeof s === "object" && (s as { type?: unknown }).type === "tensor")) {
    return {
      kind: "tensors",
      tensors: specs.map((s) => {
        const spec = (s as { name?: string; "tensor-spec"?: { dtype?: string; shape?: number[] } })["tensor-spec"] ?? {};
        return { name: (s as { name?: string }).name, dtype: String(spec.dtype ?? "float64"), shape: Array.isArray(spec.shape) ? spec.shape.map(Number) : [-1] };
      }),
    };
  }
  return {
    kind: "columns",
    columns: specs.map((s) => {
      const spec = s as { name?: unknown; type?: unknown; required?: unknown };
      return { name: spec.name === undefined ? undefined : String(spec.name), type: String(spec.type ?? "string"), required: spec.required !== false };
    }),
  };
}

/**
 * Reads `dir/MLmodel`. A folder without one, or a file that is not YAML, is
 * an `INVALID_PARAMETER_VALUE` naming the folder.
 *
 * @example
 * ```ts
 * const meta = readModelMeta("/tmp/model");
 * if (meta.flavors.onnx) ...
 * ```
 */
export function readModelMeta(dir: string): ModelMeta {
  const file = path.join(dir, "MLmodel");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw invalidParameter(`'${dir}' is not an MLflow model folder: it has no MLmodel file`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(text) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw invalidParameter(`${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const flavors = (doc.flavors ?? {}) as ModelMeta["flavors"];
  if (typeof flavors !== "object" || Object.keys(flavors).length === 0) throw invalidParameter(`${file} names no flavor`);
  const signature = (doc.signature ?? {}) as { inputs?: unknown };
  const example = (doc.saved_input_example_info ?? {}) as { serving_input_path?: string };
  let servingInputExample: string | undefined;
  const examplePath = example.serving_input_path ?? "serving_input_example.json";
  if (!examplePath.includes("..")) {
    try {
      servingInputExample = fs.readFileSync(path.join(dir, examplePath), "utf8");
    } catch {
      // no example saved
    }
  }
  return {
    dir,
    flavors,
    inputs: parseSchema(signature.inputs, file),
    servingInputExample,
    modelId: typeof doc.model_id === "string" ? doc.model_id : undefined,
    runId: typeof doc.run_id === "string" ? doc.run_id : undefined,
    mlflowVersion: typeof doc.mlflow_version === "string" ? doc.mlflow_version : undefined,
  };
}
