import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { cleanArtifactPath, proxyRoot } from "./artifacts.js";
import { ApiError, HttpTransport } from "./http.js";

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;
let server: http.Server | undefined;

/** A real HTTP server whose answers the test scripts (a flaky proxy, a web page, …). */
async function serve(handler: Handler): Promise<string> {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
});

describe("HttpTransport", () => {
  it("retries 503 answers and returns the eventual success", async () => {
    let calls = 0;
    const uri = await serve((_req, _body, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(503).end("busy");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end('{"experiment":{"experiment_id":"1"}}');
    });
    const t = new HttpTransport({ trackingUri: uri });
    expect(await t.get("experiments/get", { experiment_id: "1" })).toEqual({ experiment: { experiment_id: "1" } });
    expect(calls).toBe(3);
  });

  it("replays a streamed upload from its factory after a retryable failure", async () => {
    const received: string[] = [];
    const uri = await serve((req, body, res) => {
      received.push(`${req.method} ${req.headers["content-type"]} ${body.toString()}`);
      res.writeHead(received.length === 1 ? 503 : 200).end("{}");
    });
    const t = new HttpTransport({ trackingUri: uri });
    async function* chunks() {
      yield new TextEncoder().encode("hello ");
      yield new TextEncoder().encode("world");
    }
    const res = await t.transfer("PUT", "/api/2.0/mlflow-artifacts/artifacts/a.txt", () => chunks(), { "content-type": "application/octet-stream" });
    expect(res.status).toBe(200);
    expect(received).toEqual(["PUT application/octet-stream hello world", "PUT application/octet-stream hello world"]);
  });

  it("turns MLflow error JSON, HTML pages and non-JSON successes into ApiError", async () => {
    const uri = await serve((req, _body, res) => {
      if (req.url!.startsWith("/api/2.0/mlflow/runs/get")) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run x not found"}');
      } else if (req.url!.startsWith("/api/2.0/mlflow/experiments/get")) {
        res.writeHead(200, { "content-type": "text/html" }).end("<html>a login page</html>");
      } else {
        res.writeHead(404, { "content-type": "text/html" }).end("<html>not here</html>");
      }
    });
    const t = new HttpTransport({ trackingUri: uri, maxRetries: 1 });
    await expect(t.get("runs/get", { run_id: "x" })).rejects.toMatchObject({ status: 404, errorCode: "RESOURCE_DOES_NOT_EXIST", message: "Run x not found" });
    await expect(t.get("experiments/get")).rejects.toMatchObject({ errorCode: "INVALID_RESPONSE" });
    const err = await t.get("nothing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, errorCode: "ENDPOINT_NOT_FOUND" });
  });

  it("refuses tracking URIs that are not http(s)", () => {
    expect(() => new HttpTransport({ trackingUri: "file:///tmp/mlruns" })).toThrow(/http:\/\/ or https:\/\//);
  });
});

describe("artifact paths", () => {
  it("maps every artifact URI form the server uses onto the proxy", () => {
    expect(proxyRoot("mlflow-artifacts:/1/abc/artifacts")).toBe("1/abc/artifacts");
    expect(proxyRoot("mlflow-artifacts://host:5000/1/abc/artifacts/")).toBe("1/abc/artifacts");
    expect(proxyRoot("mlflow-artifacts:/")).toBe("");
    expect(proxyRoot("http://host:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts")).toBe("1/abc/artifacts");
    expect(() => proxyRoot("s3://bucket/1/abc/artifacts")).toThrow(/--serve-artifacts/);
    expect(() => proxyRoot("file:///srv/mlruns/1/abc/artifacts")).toThrow(ApiError);
  });

  it("normalises user paths and refuses ones that leave the run's artifacts", () => {
    expect(cleanArtifactPath(undefined)).toBe("");
    expect(cleanArtifactPath("plots//roc/./")).toBe("plots/roc");
    for (const bad of ["../x", "a/../../x", "/etc/passwd", "a\\b", "C:/x", "a\0b"]) {
      expect(() => cleanArtifactPath(bad), bad).toThrow(ApiError);
    }
  });
});
