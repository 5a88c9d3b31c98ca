import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { addressRange, isPrivateAddress } from "./ssrf.js";

/** [address, the range it is refused for] — every one of these must be refused. */
const REFUSED: [string, string][] = [
  // IPv4, dotted and in the other literal forms inet_aton and URL parsers take
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["2130706433", "loopback"], // decimal
  ["0x7f000001", "loopback"], // hex
  ["0x7f.0.0.1", "loopback"],
  ["0177.0.0.1", "loopback"], // octal
  ["127.1", "loopback"], // short
  ["10.1", "private"],
  ["0300.0250.0.1", "private"], // 192.168.0.1 in octal
  ["10.0.0.5", "private"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["169.254.169.254", "linkLocal"], // cloud metadata
  ["100.64.0.1", "carrierGradeNat"],
  ["0.0.0.0", "unspecified"],
  ["0", "unspecified"],
  ["255.255.255.255", "broadcast"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["240.0.0.1", "reserved"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "reserved"], // documentation
  ["198.18.0.1", "reserved"], // benchmarking
  // IPv6
  ["::1", "unspecified"], // as ::0.0.0.1, IPv4-compatible: refused either way
  ["[::1]", "unspecified"],
  ["::", "unspecified"],
  ["fe80::1", "linkLocal"],
  ["fe80::1%eth0", "linkLocal"],
  ["fd00::1", "uniqueLocal"],
  ["fc00::1", "uniqueLocal"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "reserved"], // documentation
  // IPv4-mapped, -translated and -compatible forms of private addresses
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["0:0:0:0:0:ffff:127.0.0.1", "loopback"],
  ["0000:0000:0000:0000:0000:ffff:7f00:0001", "loopback"],
  ["::ffff:10.0.0.1", "private"],
  ["::ffff:169.254.169.254", "linkLocal"],
  ["::ffff:0:127.0.0.1", "loopback"],
  ["::127.0.0.1", "loopback"],
  ["::7f00:1", "loopback"],
  ["::10.0.0.1", "private"],
  // 6to4 (2002::/16) embedding a private IPv4 address
  ["2002:7f00:1::", "loopback"],
  ["2002:7f00:0001:0000:0000:0000:0000:0001", "loopback"],
  ["2002:a00:1::1", "private"],
  ["2002:a9fe:a9fe::", "linkLocal"],
  // NAT64: the well-known prefix is unwrapped; the local-use prefix is refused whole
  ["64:ff9b::127.0.0.1", "loopback"],
  ["64:ff9b::a9fe:a9fe", "linkLocal"],
  ["64:ff9b::10.0.0.1", "private"],
  ["64:ff9b:1::a00:1", "rfc6052"],
  // Teredo tunnels to an address the server cannot vouch for
  ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"],
  ["2001::1", "teredo"],
];

/** Public addresses, in the same forms: these must still be accepted. */
const ACCEPTED = [
  "8.8.8.8",
  "1.1.1.1",
  "172.32.0.1",
  "100.128.0.1",
  "11.0.0.1",
  "134744072", // 8.8.8.8, decimal
  "0x08080808",
  "010.010.010.010", // 8.8.8.8, octal
  "2606:4700:4700::1111",
  "2001:4860:4860::8888",
  "[2606:4700:4700::1111]",
  "::ffff:8.8.8.8",
  "0:0:0:0:0:ffff:8.8.8.8",
  "::8.8.8.8",
  "2002:808:808::1", // 6to4 of 8.8.8.8
  "64:ff9b::8.8.8.8",
];

const NOT_ADDRESSES = ["localhost", "example.com", "", "1.2.3.4.5", "::ffff:1.2.3.4.5", "gggg::1", "[::1"];

describe("isPrivateAddress", () => {
  it.each(REFUSED)("refuses %s (%s)", (address, range) => {
    expect(addressRange(address)).toBe(range);
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(ACCEPTED)("accepts the public address %s", (address) => {
    expect(addressRange(address)).toBe("unicast");
    expect(isPrivateAddress(address)).toBe(false);
  });

  it.each(NOT_ADDRESSES)("refuses %j, which is not an address", (text) => {
    expect(addressRange(text)).toBeUndefined();
    expect(isPrivateAddress(text)).toBe(true);
  });
});

describe("webhook targets through the HTTP API", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ webhookAllowList: ["[2002:7f00:1::]:5001", "127.0.0.2"] });
  });
  afterAll(async () => t.close());

  const create = (url: string) => t.call("POST", "webhooks", { name: "hook", url, events: [{ entity: "REGISTERED_MODEL", action: "CREATED" }] });

  it.each([
    "http://127.0.0.1:9/x",
    "http://2130706433/x",
    "http://0x7f.1/x",
    "http://0177.0.0.1/x",
    "http://127.1/x",
    "http://0/x",
    "http://localhost:9/x",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/x",
    "http://224.0.0.1/x",
    "http://[::1]/x",
    "http://[::]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/x",
    "http://[::ffff:0:127.0.0.1]/x",
    "http://[::127.0.0.1]/x",
    "http://[2002:7f00:1::]:5000/x",
    "https://[2002:a9fe:a9fe::]/latest/meta-data",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    "http://[64:ff9b:1::a00:1]/x",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
    "http://[fe80::1]/x",
    "http://[fd00::1]/x",
    "http://[ff02::1]/x",
  ])("refuses %s with INVALID_PARAMETER_VALUE", async (url) => {
    const r = await create(url);
    expect(r.status).toBe(400);
    expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect(r.body.message).toMatch(/loopback, private or link-local address; add '.+' to the server's webhook allow-list/);
  });

  it.each([
    "http://8.8.8.8/x",
    "http://134744072/x",
    "https://[2606:4700:4700::1111]/hook",
    "http://[::ffff:8.8.8.8]/x",
    "http://[2002:808:808::1]/x",
    "http://[64:ff9b::8.8.8.8]/x",
  ])("accepts the public target %s", async (url) => {
    const r = await create(url);
    expect(r.status).toBe(200);
    expect(r.body.webhook).toMatchObject({ url, status: "ACTIVE" });
    expect((await t.call("DELETE", `webhooks/${r.body.webhook.webhook_id}`)).status).toBe(200);
  });

  it("accepts a private target only as the allow-list names it (host, or host and port)", async () => {
    expect((await create("http://[2002:7f00:1::]:5001/x")).status).toBe(200);
    expect((await create("http://[2002:7f00:1::]:5000/x")).status).toBe(400);
    expect((await create("http://127.0.0.2:8080/x")).status).toBe(200);
    expect((await create("http://127.0.0.3:8080/x")).status).toBe(400);
  });
});
