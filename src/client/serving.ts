/**
 * The client of a scoring server (`mloop serve`, or `mlflow models serve` for
 * `predict`): predictions in MLflow's scoring protocol, feedback labels, status.
 */
import crypto from "node:crypto";
import type { ErrorResponse, FeedbackEntry, FeedbackResponse, PredictionsResponse, ServingStatusReply, TrafficRequest, TrafficResponse } from "../wire/index.js";
import { ApiError } from "./http.js";

export type { ServingStatusReply };

export interface ServingClientOptions {
  /** Scoring server URL, e.g. `http://127.0.0.1:5001`. */
  url: string;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** What `predict` sends: a scoring body (`{dataframe_split: …}`, `{inputs: …}`, …), records, or CSV text. */
export type PredictInput = Record<string, unknown> | Record<string, unknown>[] | string;

export interface PredictOptions {
  /** Sent as `X-Request-Id`; the server makes one up otherwise. */
  requestId?: string;
  params?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface PredictResult<T = unknown> {
  predictions: T;
  /** The id the prediction is logged under; pass it to {@link ServingClient.sendFeedback}. */
  requestId?: string;
  /** The model version that answered (`X-Mloop-Model-Version`). */
  modelVersion?: string;
}

export interface Feedback {
  requestId: string;
  label: unknown;
}

/**
 * A typed client of `mloop serve`.
 *
 * @example
 * ```ts
 * const serving = new ServingClient({ url: "http://127.0.0.1:5001" });
 * const { predictions, requestId } = await serving.predict([{ x: 1.5, y: 2 }]);
 * await serving.sendFeedback({ requestId: requestId!, label: 1 });
 * ```
 */
export class ServingClient {
  private readonly url: string;

  /**
   * @example
   * ```ts
   * const serving = new ServingClient({ url: "http://127.0.0.1:5001" });
   * ```
   */
  constructor(private readonly opts: ServingClientOptions) {
    if (!/^https?:\/\//.test(opts.url)) throw new Error(`the scoring server URL must be http:// or https://, got '${opts.url}'`);
    this.url = opts.url.replace(/\/+$/, "");
  }

  private async call(method: string, route: string, body?: string, headers: Record<string, string> = {}): Promise<{ res: Response; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${route}`, {
        method,
        body,
        headers: { ...this.opts.headers, ...headers },
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000),
      });
    } catch (err) {
      throw new ApiError(0, "UNREACHABLE", `cannot reach the scoring server at ${this.url}: ${(err as Error).message} (is mloop serve running there?)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = (json ?? {}) as Partial<ErrorResponse>;
      throw new ApiError(res.status, e.error_code ?? "HTTP_ERROR", e.message ?? (text.slice(0, 200) || res.statusText));
    }
    return { res, json };
  }

  /**
   * Scores input through `POST /invocations`. An array is sent as `dataframe_records`,
   * a string as CSV, an object as the scoring body itself.
   *
   * @example
   * ```ts
   * await serving.predict({ dataframe_split: { columns: ["x"], data: [[1], [2]] } });
   * await serving.predict("x\n1\n2\n");
   * ```
   */
  async predict<T = unknown>(input: PredictInput, opts: PredictOptions = {}): Promise<PredictResult<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.requestId) headers["x-request-id"] = opts.requestId;
    let body: string;
    if (typeof input === "string") {
      headers["content-type"] = "text/csv";
      body = input;
    } else {
      headers["content-type"] = "application/json";
      const doc = Array.isArray(input) ? { dataframe_records: input } : { ...input };
      if (opts.params) (doc as Record<string, unknown>).params = opts.params;
      body = JSON.stringify(doc);
    }
    const { res, json } = await this.call("POST", "/invocations", body, headers);
    return {
      predictions: (json as PredictionsResponse<T>).predictions,
      requestId: res.headers.get("x-request-id") ?? undefined,
      modelVersion: res.headers.get("x-mloop-model-version") ?? undefined,
    };
  }

  /**
   * Attaches ground-truth labels to earlier predictions; resolves once they are stored durably.
   *
   * @example
   * ```ts
   * await serving.sendFeedback([{ requestId: "r-1", label: 0 }, { requestId: "r-2", label: 1 }]);
   * ```
   */
  async sendFeedback(feedback: Feedback | Feedback[]): Promise<number> {
    const items = (Array.isArray(feedback) ? feedback : [feedback]).map((f): FeedbackEntry => ({ request_id: f.requestId, label: f.label }));
    const { json } = await this.call("POST", "/feedback", JSON.stringify({ feedback: items }), { "content-type": "application/json" });
    return (json as FeedbackResponse).accepted;
  }

  /**
   * The server's versions, traffic shares, request counts, latency and error rates.
   *
   * @example
   * ```ts
   * const { models } = await serving.status();
   * ```
   */
  async status(): Promise<ServingStatusReply> {
    return (await this.call("GET", "/status")).json as ServingStatusReply;
  }

  /**
   * Sets the split between champion and challenger (`POST /traffic`); `token` is the server's `--control-token`.
   *
   * @example
   * ```ts
   * await serving.setTraffic({ mode: "canary", share: 0.2 });
   * await serving.setTraffic({ mode: "shadow" });
   * ```
   */
  async setTraffic(traffic: TrafficRequest, token?: string): Promise<TrafficResponse["policy"]> {
    const headers: Record<string, string> = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
    return ((await this.call("POST", "/traffic", JSON.stringify(traffic), headers)).json as TrafficResponse).policy;
  }

  /**
   * Makes the server re-read its aliases now (`POST /webhooks/registry`, signed as MLflow signs a
   * delivery when the server has a `--webhook-secret`); returns what it serves then.
   *
   * @example
   * ```ts
   * await serving.refresh();
   * ```
   */
  async refresh(webhookSecret?: string): Promise<{ role: string; name: string; version: string }[]> {
    const body = JSON.stringify({ entity: "model_version_alias", action: "created" });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (webhookSecret) {
      const id = crypto.randomUUID();
      const ts = String(Math.floor(Date.now() / 1000));
      headers["x-mlflow-delivery-id"] = id;
      headers["x-mlflow-timestamp"] = ts;
      headers["x-mlflow-signature"] = `v1,${crypto.createHmac("sha256", webhookSecret).update(`${id}.${ts}.${body}`, "utf8").digest("base64")}`;
    }
    return ((await this.call("POST", "/webhooks/registry", body, headers)).json as { models: { role: string; name: string; version: string }[] }).models;
  }
}
