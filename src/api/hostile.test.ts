/**
 * Hostile input against every route the app registers: whatever a client
 * sends, the answer is never a 5xx, and every error is MLflow's
 * `{"error_code", "message"}`. The routes come from the app's own route
 * table, so a new endpoint is covered without editing this file.
 */
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";

let t: TestApp;
let runId = "";

beforeAll(async () => {
  t = await makeTestApp();
  const exp = await t.call("POST", "experiments/create", { name: "hostile" });
  const run = await t.call("POST", "runs/create", { experiment_id: exp.body.experiment_id });
  runId = run.body.run.info.run_id;
  await t.call("POST", "registered-models/create", { name: "hostile-model" });
});

afterAll(async () => t?.close());

const deep = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);
const loneSurrogate = "\ud800";

/** Bodies that have broken parsers and handlers elsewhere. */
const hostileBody = fc.oneof(
  fc.constant(deep(50_000, "[", "]")),
  fc.constant(`{"a":${deep(50_000, "[", "]")}}`),
  fc.constant(deep(20_000, '{"a":', "}").replace(/}$/, "1}")),
  fc.constant(`{"name":"${loneSurrogate}","path":"${loneSurrogate}","experiment_id":"${loneSurrogate}"}`),
  fc.constant('{"path": 12, "name": [], "run_id": {}, "experiment_id": true}'),
  fc.constant(`{"filter":"name IN (${Array.from({ length: 30_000 }, (_, i) => `'m${i}'`).join(",")})"}`),
  fc.constant(`{"filter_string":"attributes.run_id IN (${Array.from({ length: 30_000 }, (_, i) => `'${i}'`).join(",")})"}`),
  fc.constant('{"metrics":[{"key":"k","value":"x","timestamp":"y","step":{}}],"run_id":"RUN"}'),
  fc.constant('{"max_results": 1e308, "page_token": "%%%", "order_by": [1, null]}'),
  fc.constant("not json at all"),
  fc.constant(""),
  fc.constant("null"),
  fc.constant('"a string"'),
  fc.constant("[1,2,3]"),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom("name", "run_id", "experiment_id", "key", "value", "path", "filter", "filter_string", "max_results", "page_token", "version", "alias", "model_id", "tags", "url", "events"), fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }))).map((o) =>
    JSON.stringify(o).replaceAll("RUN", runId),
  ),
);

const hostileSegment = fc.oneof(
  fc.constantFrom("..", "%2e%2e", "%252e%252e", "..%2f..%2fetc%2fpasswd", "%00", "a%ZZ", "%ud800", "//proc/self/environ", "C:%5Cwindows", "~", "x".repeat(3000), "hostile-model", "1"),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);

const hostileQuery = fc.oneof(
  fc.constant(""),
  fc.constantFrom("?run_id=RUN", "?path=..%2F..%2Fetc", "?max_results=-1", "?max_results=99999999999999999999", "?filter=%27", `?path=${"a/".repeat(2000)}`, "?name=%ud800", "?a[b][c]=1", "?experiment_ids=1&experiment_ids=2"),
  fc.dictionary(fc.constantFrom("run_id", "path", "name", "filter", "max_results", "page_token", "version", "experiment_id", "view_type"), fc.string({ maxLength: 12 })).map((o) => (Object.keys(o).length ? "?" + new URLSearchParams(o).toString() : "")),
);

function fillPattern(url: string, segments: string[]): string {
  let i = 0;
  return url.replace(/:[A-Za-z_]+|\*/g, () => segments[i++ % segments.length] ?? "x");
}

describe("hostile input on every route", () => {
  it("covers the whole route table", () => {
    // A sanity floor: the API has well over a hundred routes; if this drops the table is not being collected.
    expect(t.app.routeTable.length).toBeGreaterThan(100);
  });

  it("answers every route with a 2xx/3xx or a 4xx in MLflow's error shape, never a 5xx", async () => {
    const routes = t.app.routeTable.filter((r) => r.method !== "HEAD" && r.method !== "OPTIONS");
    const failures: string[] = [];
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(hostileBody, fc.array(hostileSegment, { minLength: 1, maxLength: 3 }), hostileQuery, fc.constantFrom("application/json", "application/octet-stream", "text/plain", ""), async (body, segments, query, type) => {
          const url = fillPattern(route.url, segments) + query.replaceAll("RUN", runId);
          const sendsBody = route.method !== "GET" && route.method !== "DELETE";
          const res = await t.app.inject({
            method: route.method as "GET",
            url,
            ...(sendsBody ? { payload: body, headers: type ? { "content-type": type } : {} } : {}),
          });
          if (res.statusCode >= 500) {
            failures.push(`${route.method} ${url.slice(0, 120)} (${type}) -> ${res.statusCode} ${res.body.slice(0, 200)}`);
            return false;
          }
          if (res.statusCode >= 400 && /^\/(api|ajax-api)\//.test(url)) {
            const parsed = JSON.parse(res.body) as { error_code?: unknown; message?: unknown };
            if (typeof parsed.error_code !== "string" || typeof parsed.message !== "string") {
              failures.push(`${route.method} ${url.slice(0, 120)} -> ${res.statusCode} not MLflow's error shape: ${res.body.slice(0, 200)}`);
              return false;
            }
          }
          return true;
        }),
        { numRuns: Number(process.env.HOSTILE_RUNS ?? 12), seed: Number(process.env.HOSTILE_SEED ?? 1234), endOnFailure: true },
      ).catch(() => undefined);
    }
    expect(failures).toEqual([]);
  }, 240_000);
});

/** Sends raw bytes to a listening server and returns the status line's code and the body. */
async function rawRequest(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString("utf8")));
    socket.on("error", reject);
    socket.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    socket.end(request);
  });
}

describe("requests Node's HTTP parser refuses", () => {
  it("answers an oversized URL, oversized headers and garbage with a 4xx in MLflow's error shape", async () => {
    const other = await makeTestApp();
    try {
      await other.app.listen({ host: "127.0.0.1", port: 0 });
      const port = (other.app.server.address() as net.AddressInfo).port;
      const cases = [
        `GET /api/2.0/mlflow/experiments/get?experiment_id=${"1".repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`,
        "NOT-HTTP\r\n\r\n",
        "POST /api/2.0/mlflow/runs/create HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
      ];
      for (const request of cases) {
        const res = await rawRequest(port, request);
        expect(res.status, request.slice(0, 60)).toBeGreaterThanOrEqual(400);
        expect(res.status, request.slice(0, 60)).toBeLessThan(500);
        const body = JSON.parse(res.body) as { error_code: string; message: string };
        expect(typeof body.error_code).toBe("string");
        expect(typeof body.message).toBe("string");
      }
    } finally {
      await other.close();
    }
  });
});

