/**
 * ONNX models in-process: one onnxruntime-node session per model version.
 * Inputs become typed arrays once; outputs are shaped as MLflow's onnx flavor
 * shapes them (a table in, one record per row out; tensors in, named tensors out).
 */
import path from "node:path";
import { MlflowError } from "../errors.js";
import type { Frame, ScoringInput, TensorInput } from "./input.js";
import { shapeOf } from "./input.js";
import type { ModelMeta } from "./mlmodel.js";
import type { Prediction, Predictor, PredictRequest } from "./predictor.js";

type Ort = typeof import("onnxruntime-node");
type Session = import("onnxruntime-node").InferenceSession;
type Tensor = import("onnxruntime-node").Tensor;

interface InputInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

let ortModule: Promise<Ort> | undefined;
/** Loaded on first use so servers of pyfunc models never load the native runtime. */
function ort(): Promise<Ort> {
  ortModule ??= import("onnxruntime-node");
  return ortModule;
}

const badRequest = (message: string) => new MlflowError("BAD_REQUEST", message);

type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Int16Array | Uint16Array;

function typedArray(type: string, n: number): TypedArray {
  switch (type) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "uint8":
      return new Uint8Array(n);
    case "int8":
      return new Int8Array(n);
    case "int16":
      return new Int16Array(n);
    case "uint16":
      return new Uint16Array(n);
    case "bool":
      return new Uint8Array(n);
    default:
      throw badRequest(`this ONNX model takes ${type} inputs, which mloop serves only through the Python worker`);
  }
}

function put(arr: TypedArray, i: number, v: unknown, input: string): void {
  if (arr instanceof BigInt64Array) {
    if (typeof v !== "number" || !Number.isInteger(v)) throw badRequest(`input '${input}' expects integers, got ${JSON.stringify(v)}`);
    arr[i] = BigInt(v);
    return;
  }
  if (typeof v === "boolean") {
    arr[i] = v ? 1 : 0;
    return;
  }
  if (v === null || v === undefined) {
    arr[i] = NaN;
    return;
  }
  if (typeof v !== "number") throw badRequest(`input '${input}' expects numbers, got ${JSON.stringify(v)}`);
  arr[i] = v;
}

/** A JSON-ready value of one tensor element. */
function element(data: Tensor["data"], i: number): unknown {
  const v = (data as ArrayLike<unknown>)[i];
  return typeof v === "bigint" ? Number(v) : v;
}

function nest(t: Tensor): unknown {
  const dims = t.dims;
  if (dims.length === 0) return element(t.data, 0);
  const build = (depth: number, offset: number): unknown[] => {
    const n = dims[depth]!;
    const stride = dims.slice(depth + 1).reduce((a, b) => a * b, 1);
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = depth === dims.length - 1 ? element(t.data, offset + i) : build(depth + 1, offset + i * stride);
    return out;
  };
  return build(0, 0);
}

export class OnnxPredictor implements Predictor {
  readonly kind = "onnx";
  private constructor(
    private readonly ortLib: Ort,
    private readonly session: Session,
    private readonly inputs: InputInfo[],
    private readonly columnOrder: string[] | undefined,
  ) {}

  /** Opens the model's `.onnx` file; a graph with non-tensor inputs or outputs is refused (serve it through the Python worker). */
  static async open(meta: ModelMeta): Promise<OnnxPredictor> {
    const lib = await ort();
    const file = String(meta.flavors.onnx?.data ?? "model.onnx");
    if (file.includes("..") || path.isAbsolute(file)) throw new MlflowError("INVALID_PARAMETER_VALUE", `MLmodel names an unsafe ONNX file '${file}'`);
    const session = await lib.InferenceSession.create(path.join(meta.dir, file), { graphOptimizationLevel: "all", intraOpNumThreads: 1, interOpNumThreads: 1 });
    const inputs = session.inputMetadata.map((m) => {
      if (!m.isTensor) throw new MlflowError("INVALID_PARAMETER_VALUE", `ONNX input '${m.name}' is not a tensor`);
      return { name: m.name, type: m.type, shape: m.shape as (number | string)[] };
    });
    const nonTensor = session.outputMetadata.filter((m) => !m.isTensor).map((m) => m.name);
    if (nonTensor.length) {
      await session.release();
      throw new MlflowError("INVALID_PARAMETER_VALUE", `ONNX outputs ${nonTensor.join(", ")} are not tensors (a ZipMap?); convert with skl2onnx option zipmap=False or "columns", or serve with --onnx-runtime python`);
    }
    const columnOrder = meta.inputs?.kind === "columns" && meta.inputs.columns.every((c) => c.name) ? meta.inputs.columns.map((c) => c.name!) : undefined;
    return new OnnxPredictor(lib, session, inputs, columnOrder);
  }

  private feedsFromFrame(frame: Frame): Record<string, Tensor> {
    const order = this.columnOrder ?? frame.columns;
    const cols = order.map((name) => {
      const i = frame.columns.indexOf(name);
      if (i < 0) throw badRequest(`Model is missing inputs ["${name}"]`);
      return frame.data[i]!;
    });
    const n = frame.rows;
    if (this.inputs.length === 1) {
      const input = this.inputs[0]!;
      const width = cols.length;
      const arr = typedArray(input.type, n * width);
      for (let c = 0; c < width; c++) {
        const col = cols[c]!;
        for (let r = 0; r < n; r++) put(arr, r * width + c, col[r], input.name);
      }
      const dims = input.shape.length <= 1 && width === 1 ? [n] : [n, width];
      return { [input.name]: new this.ortLib.Tensor(input.type as "float32", arr as Float32Array, dims) };
    }
    const feeds: Record<string, Tensor> = {};
    for (const input of this.inputs) {
      const i = order.indexOf(input.name);
      if (i < 0) throw badRequest(`Model is missing inputs ["${input.name}"]`);
      const col = cols[i]!;
      const arr = typedArray(input.type, n);
      for (let r = 0; r < n; r++) put(arr, r, col[r], input.name);
      feeds[input.name] = new this.ortLib.Tensor(input.type as "float32", arr as Float32Array, input.shape.length === 2 ? [n, 1] : [n]);
    }
    return feeds;
  }

  private feedsFromTensor(input: TensorInput): Record<string, Tensor> {
    const named = input.value !== null && typeof input.value === "object" && !Array.isArray(input.value);
    if (!named && this.inputs.length !== 1) {
      throw badRequest(`This model has ${this.inputs.length} inputs (${this.inputs.map((i) => i.name).join(", ")}): send them by name`);
    }
    const entries: [InputInfo, unknown][] = named
      ? this.inputs.map((info) => {
          const v = (input.value as Record<string, unknown>)[info.name];
          if (v === undefined) throw badRequest(`Model is missing inputs ["${info.name}"]`);
          return [info, v];
        })
      : [[this.inputs[0]!, input.value]];
    const feeds: Record<string, Tensor> = {};
    for (const [info, v] of entries) {
      const shape = shapeOf(v, info.name);
      if (info.shape.length && shape.length !== info.shape.length) throw badRequest(`input '${info.name}' has ${shape.length} dimensions but the model expects ${info.shape.length}`);
      info.shape.forEach((d, k) => {
        if (typeof d === "number" && d > 0 && d !== shape[k]) throw badRequest(`input '${info.name}' has size ${shape[k]} in dimension ${k} but the model expects ${d}`);
      });
      const flat = shape.length ? (v as unknown[]).flat(Infinity) : [v];
      const arr = typedArray(info.type, flat.length);
      for (let i = 0; i < flat.length; i++) put(arr, i, flat[i], info.name);
      feeds[info.name] = new this.ortLib.Tensor(info.type as "float32", arr as Float32Array, shape);
    }
    return feeds;
  }

  async predict(req: PredictRequest): Promise<Prediction> {
    const input: ScoringInput = req.input;
    const feeds = input.kind === "frame" ? this.feedsFromFrame(input) : this.feedsFromTensor(input);
    let out: Record<string, Tensor>;
    try {
      out = await this.session.run(feeds);
    } catch (err) {
      throw badRequest(`Encountered an unexpected error while evaluating the model. Verify that the input is compatible with the model for inference. Error: ${(err as Error).message.split("\n")[0]}`);
    }
    const names = this.session.outputNames;
    if (input.kind === "tensor") {
      const preds: Record<string, unknown> = {};
      for (const name of names) preds[name] = nest(out[name]!);
      return { json: JSON.stringify(preds) };
    }
    // A table in: each output flattened to one value per row, one record per row.
    const tensors = names.map((n) => out[n]!);
    const rows = tensors[0]!.data.length;
    if (tensors.some((t) => t.data.length !== rows)) {
      throw badRequest(`The model's outputs have different lengths (${names.map((n, i) => `${n}: ${tensors[i]!.data.length}`).join(", ")}) and cannot form one record per row; send the input as 'inputs' to get each output as a tensor`);
    }
    const keys = names.map((n) => JSON.stringify(n));
    let json = "[";
    for (let r = 0; r < rows; r++) {
      if (r) json += ",";
      json += "{";
      for (let k = 0; k < tensors.length; k++) {
        if (k) json += ",";
        json += keys[k] + ":" + JSON.stringify(element(tensors[k]!.data, r) ?? null);
      }
      json += "}";
    }
    return { json: json + "]" };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
