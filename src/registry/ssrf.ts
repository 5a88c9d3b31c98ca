import dns from "node:dns";
import net from "node:net";

/**
 * Webhook targets must not reach the server's own network: every address a
 * host name resolves to is checked, and the connection is pinned to the
 * checked address so a second DNS answer cannot swap it (rebinding).
 */
export function isPrivateAddress(address: string): boolean {
  let ip = address.toLowerCase();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) ip = mapped[1]!;
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split(".").map(Number) as [number, number, number, number];
    return (
      a === 0 || // this network
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224 // multicast, reserved, broadcast
    );
  }
  if (net.isIPv6(ip)) {
    if (ip === "::" || ip === "::1") return true;
    const head = parseInt(ip.split(":")[0] || "0", 16);
    if ((head & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
    if ((head & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
    if ((head & 0xff00) === 0xff00) return true; // multicast
    if (ip.startsWith("64:ff9b:")) return true; // NAT64 can reach IPv4 private space
    if (/^::ffff:/.test(ip) || /^::[0-9a-f]*:?[0-9a-f]*$/.test(ip)) return true; // mapped/compatible forms
    return false;
  }
  return true;
}

export class SsrfError extends Error {}

export interface TargetPolicy {
  /** Entries `host` or `host:port` that may be private. */
  allowList: readonly string[];
}

function allowed(policy: TargetPolicy, host: string, port: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return policy.allowList.some((entry) => {
    const e = entry.toLowerCase().trim();
    const withPort = /^(.*):(\d+)$/.exec(e);
    if (withPort && !e.startsWith("[") && withPort[1]!.includes(":")) {
      // bare IPv6 literal without a port
      return e === h;
    }
    if (withPort) return withPort[1]!.replace(/^\[|\]$/g, "") === h && withPort[2] === port;
    return e.replace(/^\[|\]$/g, "") === h;
  });
}

export function defaultPort(url: URL): string {
  return url.port || (url.protocol === "https:" ? "443" : "80");
}

/** Parses and checks a webhook URL's form (scheme, no credentials). */
export function checkWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SsrfError(`Invalid webhook URL '${raw}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new SsrfError(`Invalid webhook URL '${raw}': only http and https are allowed`);
  if (url.username || url.password) throw new SsrfError(`Invalid webhook URL '${raw}': credentials in the URL are not allowed`);
  if (!url.hostname) throw new SsrfError(`Invalid webhook URL '${raw}': no host`);
  return url;
}

/** Resolves the URL's host and returns the addresses it may connect to; throws SsrfError otherwise. */
export async function resolveTarget(url: URL, policy: TargetPolicy): Promise<{ address: string; family: number }[]> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const isAllowed = allowed(policy, host, defaultPort(url));
  let addrs: { address: string; family: number }[];
  if (net.isIP(host)) {
    addrs = [{ address: host, family: net.isIPv6(host) ? 6 : 4 }];
  } else {
    try {
      addrs = await dns.promises.lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new SsrfError(`Cannot resolve webhook host '${host}': ${(err as { code?: string }).code ?? "lookup failed"}`);
    }
  }
  if (addrs.length === 0) throw new SsrfError(`Cannot resolve webhook host '${host}'`);
  if (!isAllowed) {
    const bad = addrs.find((a) => isPrivateAddress(a.address));
    if (bad) {
      throw new SsrfError(
        `Webhook URL '${url.origin}' resolves to ${bad.address}, a loopback, private or link-local address; add '${host}:${defaultPort(url)}' to the server's webhook allow-list to permit it`,
      );
    }
  }
  return addrs;
}
