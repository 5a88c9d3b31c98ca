import { createHash } from "node:crypto";
import http from "node:http";
import { Readable } from "node:stream";

/** A stream of `size` deterministic pseudo-random bytes made on the fly, and the sha256 of all of them. */
export function generatedBody(size: number, seed = 42): { stream: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  let sent = 0;
  let x = seed >>> 0 || 1;
  const stream = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(1024 * 1024, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i + 4 <= n; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        chunk.writeInt32LE(x | 0, i);
      }
      for (let i = n - (n % 4); i < n; i++) chunk[i] = i & 0xff;
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with the path sent byte for byte (no client-side normalisation of `..`). */
export function rawRequest(port: number, method: string, path: string, body?: Readable | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** Streams a response body through sha256 without keeping it; returns status, length and digest. */
export function downloadSha256(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; bytes: number; sha256: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const hash = createHash("sha256");
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest("hex"), headers: res.headers }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}
