/**
 * The HTTP transport every SDK client shares: MLflow's REST conventions,
 * JSON in and out, errors as {@link ApiError} carrying MLflow's error_code,
 * and retries with backoff on 429/5xx and connection failures.
 */
import type { ErrorResponse } from "../wire/index.js";

/**
 * A failed request: MLflow's `error_code` (or `CONNECTION_ERROR`, `TIMEOUT`,
 * `INVALID_RESPONSE` for failures before an answer) and the HTTP status (0 when there was none).
 *
 * @example
 * ```ts
 * try {
 *   await client.getRun(runId);
 * } catch (err) {
 *   if (err instanceof ApiError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") console.log("no such run");
 *   else throw err;
 * }
 * ```
 */
export class ApiError extends Error {
  /**
   * @example
   * ```ts
   * throw new ApiError(404, "RESOURCE_DOES_NOT_EXIST", `artifact '${path}' does not exist`);
   * ```
   */
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface TransportOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:5000`. */
  trackingUri: string;
  /** Extra headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Attempts for retryable failures (default 5). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | readonly (string | number)[] | undefined>;

/** A body fetch accepts (`BodyInit` is a global only with the DOM lib, which the build leaves out). */
export type RequestBody = NonNullable<RequestInit["body"]>;

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

/**
 * JSON requests to an MLflow-compatible server, with retries and MLflow's error shape.
 *
 * @example
 * ```ts
 * const http = new HttpTransport({ trackingUri: "http://127.0.0.1:5000" });
 * const { experiment } = await http.get<{ experiment: Experiment }>("experiments/get", { experiment_id: "0" });
 * ```
 */
export class HttpTransport {
  readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;

  constructor(opts: TransportOptions) {
    const uri = opts.trackingUri.replace(/\/+$/, "");
    if (!/^https?:\/\//.test(uri)) {
      throw new Error(`tracking URI must be http:// or https://, got '${opts.trackingUri}'`);
    }
    this.baseUrl = uri;
    this.headers = opts.headers ?? {};
    this.maxRetries = opts.maxRetries ?? 5;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
  }

  /**
   * `GET /api/2.0/mlflow/<path>?query`.
   *
   * @example
   * ```ts
   * const { run } = await http.get<{ run: Run }>("runs/get", { run_id: runId });
   * ```
   */
  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.request<T>("GET", apiPath(path), query, undefined);
  }

  /**
   * `POST /api/2.0/mlflow/<path>` with a JSON body.
   *
   * @example
   * ```ts
   * await http.post("runs/set-tag", { run_id: runId, key: "stage", value: "dev" });
   * ```
   */
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>("POST", apiPath(path), {}, body);
  }

  /**
   * `PATCH /api/2.0/mlflow/<path>` with a JSON body.
   *
   * @example
   * ```ts
   * await http.patch("registered-models/update", { name: "fraud", description: "v2" });
   * ```
   */
  patch<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>("PATCH", apiPath(path), {}, body);
  }

  /**
   * `DELETE /api/2.0/mlflow/<path>`, with an optional JSON body and query.
   *
   * @example
   * ```ts
   * await http.delete("registered-models/alias", undefined, { name: "fraud", alias: "champion" });
   * ```
   */
  delete<T>(path: string, body?: unknown, query: Query = {}): Promise<T> {
    return this.request<T>("DELETE", apiPath(path), query, body);
  }

  /**
   * Any request with a JSON (or no) body; `path` is absolute (starts with `/`).
   *
   * @example
   * ```ts
   * const res = await http.request<{ files: FileInfo[] }>("GET", "/api/2.0/mlflow-artifacts/artifacts", { path: "1/abc/artifacts" }, undefined);
   * ```
   */
  async request<T>(method: string, path: string, query: Query, body: unknown): Promise<T> {
    const res = await this.fetchWithRetry(method, path, query, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { "content-type": "application/json" });
    const text = await res.text();
    if (!res.ok) throw toApiError(res.status, text);
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      // e.g. a tracking URI that points at a web page or a proxy's HTML error
      throw new ApiError(res.status, "INVALID_RESPONSE", `${this.baseUrl}${path} did not answer with JSON (is it an mloop or MLflow tracking server?)`);
    }
  }

  /**
   * A raw request (streams, binary bodies); the caller reads the response. Throws {@link ApiError} on failure.
   *
   * @example
   * ```ts
   * const res = await http.raw("GET", "/get-artifact", { run_id: runId, path: "model/MLmodel" });
   * const text = await res.text();
   * ```
   */
  async raw(method: string, path: string, query: Query = {}, body?: RequestBody, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.fetchWithRetry(method, path, query, body, headers);
    if (!res.ok) throw toApiError(res.status, await res.text());
    return res;
  }

  /**
   * A file transfer: no overall timeout (a large file may take minutes; fetch's
   * own 300 s limits on waiting for headers and between body chunks still apply), and
   * a streamed body given as a factory is replayed on retry by calling it again.
   * Throws {@link ApiError} on failure; the caller reads the response body.
   *
   * @example
   * ```ts
   * await http.transfer("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.onnx", () => fs.createReadStream("model.onnx"), {
   *   "content-type": "application/octet-stream",
   * });
   * ```
   */
  async transfer(method: string, path: string, body?: () => RequestBody | AsyncIterable<Uint8Array>, headers: Record<string, string> = {}, query: Query = {}): Promise<Response> {
    const res = await this.fetchWithRetry(method, path, query, body as (() => RequestBody) | undefined, headers, 0);
    if (!res.ok) throw toApiError(res.status, await res.text());
    return res;
  }

  private async fetchWithRetry(
    method: string,
    path: string,
    query: Query,
    body: RequestBody | (() => RequestBody) | undefined,
    headers: Record<string, string>,
    timeoutMs = this.timeoutMs,
  ): Promise<Response> {
    const url = `${this.baseUrl}${path}${queryString(query)}`;
    // A stream cannot be replayed, so only buffered bodies and body factories are retried.
    const replayable = body === undefined || typeof body === "string" || body instanceof Uint8Array || typeof body === "function";
    let attempt = 0;
    for (;;) {
      attempt++;
      try {
        const payload = typeof body === "function" ? body() : body;
        const init: RequestInit & { duplex?: string } = {
          method,
          headers: { ...this.headers, ...headers },
          body: payload,
        };
        if (timeoutMs > 0) init.signal = AbortSignal.timeout(timeoutMs);
        if (payload !== undefined && typeof payload !== "string" && !(payload instanceof Uint8Array)) init.duplex = "half";
        const res = await fetch(url, init);
        if (RETRYABLE_STATUS.has(res.status) && replayable && attempt < this.maxRetries) {
          await res.arrayBuffer().catch(() => undefined);
          await sleep(backoff(attempt));
          continue;
        }
        return res;
      } catch (err) {
        if (!replayable || attempt >= this.maxRetries || !isConnectionError(err)) {
          if (isTimeout(err)) throw new ApiError(0, "TIMEOUT", `${method} ${this.baseUrl}${path} timed out after ${timeoutMs} ms`);
          throw new ApiError(0, "CONNECTION_ERROR", `cannot reach ${this.baseUrl}: ${describe(err)}`);
        }
        await sleep(backoff(attempt));
      }
    }
  }
}

function apiPath(path: string): string {
  return path.startsWith("/") ? path : `/api/2.0/mlflow/${path}`;
}

/**
 * A URL query string; lists repeat the key, undefined values are left out.
 *
 * @example
 * ```ts
 * queryString({ run_ids: ["a", "b"], max_results: 10, page_token: undefined }); // "?run_ids=a&run_ids=b&max_results=10"
 * ```
 */
export function queryString(query: Query): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const item of values) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(item))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

function toApiError(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse>;
    if (body.error_code) return new ApiError(status, body.error_code, body.message ?? "");
  } catch {
    // not JSON
  }
  return new ApiError(status, status === 404 ? "ENDPOINT_NOT_FOUND" : "INTERNAL_ERROR", text.slice(0, 500) || `HTTP ${status}`);
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNREFUSED" || code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE" || (err instanceof TypeError && /fetch failed/.test(err.message));
}

function isTimeout(err: unknown): boolean {
  return err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError");
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function backoff(attempt: number): number {
  return Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
