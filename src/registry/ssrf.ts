import dns from "node:dns";
import net from "node:net";
import ipaddr from "ipaddr.js";

/** The IPv4 address in the last 32 bits of an IPv6 address. */
function low32(ip: ipaddr.IPv6): ipaddr.IPv4 {
  const [, , , , , , hi = 0, lo = 0] = ip.parts;
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * The IPv4 address an IPv6 address carries and leads to, when it is one of
 * the forms that do: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
 * (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, with `::` and `::1`),
 * 6to4 (`2002:aabb:ccdd::/48`) and NAT64's well-known prefix (`64:ff9b::/96`).
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const p = ip.parts;
  if (p.slice(0, 6).every((x) => x === 0)) return low32(ip);
  switch (ip.range()) {
    case "ipv4Mapped":
    case "rfc6145":
      return low32(ip);
    case "6to4":
      return new ipaddr.IPv4([p[1]! >> 8, p[1]! & 0xff, p[2]! >> 8, p[2]! & 0xff]);
    case "rfc6052":
      // Only the /96 well-known prefix puts the IPv4 address at the end; the local-use 64:ff9b:1::/48 stays refused as a whole.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? low32(ip) : undefined;
    default:
      return undefined;
  }
}

/**
 * The special-purpose range `address` lies in, as ipaddr.js names them
 * (`unicast` for an ordinary public address, else `loopback`, `private`,
 * `linkLocal`, `uniqueLocal`, `multicast`, `reserved`, `teredo`, …), after
 * unwrapping an IPv4 address embedded in an IPv6 one; undefined when it is
 * not an IP address. IPv4 literals may be written in any form inet_aton and
 * URL parsers accept (`2130706433`, `0x7f.1`, `0177.0.0.1`).
 */
export function addressRange(address: string): string | undefined {
  let ip = address.trim();
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(ip);
  } catch {
    return undefined;
  }
  if (parsed.kind() === "ipv4") return parsed.range();
  const inner = embeddedIPv4(parsed as ipaddr.IPv6);
  return inner ? inner.range() : parsed.range();
}

/**
 * Webhook targets must not reach the server's own network: every address a
 * host name resolves to is checked, and the connection is pinned to the
 * checked address so a second DNS answer cannot swap it (rebinding). Only
 * ordinary public unicast addresses pass; so do the IPv6 forms that embed one.
 * Teredo (2001::/32) is refused as a whole: it tunnels to an address the
 * server cannot check.
 */
export function isPrivateAddress(address: string): boolean {
  return addressRange(address) !== "unicast";
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
