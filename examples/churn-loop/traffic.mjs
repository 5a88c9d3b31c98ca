// Sends the example's traffic to `mloop deploy apply`'s scoring server.
//   node traffic.mjs before|after [--url http://127.0.0.1:5001] [--repeat N]
// "after" sends each request's true labels to /feedback, as a labelling process would later.
import fs from "node:fs";

const which = process.argv[2] ?? "before";
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const url = arg("--url", "http://127.0.0.1:5001");
const repeat = Number(arg("--repeat", which === "after" ? "3" : "1"));
const [head, ...lines] = fs.readFileSync(new URL(`./work/data/traffic_${which}.csv`, import.meta.url), "utf8").trim().split("\n");
const columns = head.split(",").slice(0, 4);
const rows = lines.map((l) => l.split(",").map(Number));
const versions = {};
for (let r = 0; r < repeat; r++) {
  for (let i = 0; i < rows.length; i += 20) {
    const chunk = rows.slice(i, i + 20);
    const res = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns, data: chunk.map((x) => x.slice(0, 4)) } }) });
    if (!res.ok) throw new Error(`${res.status}: ${await res.text()}`);
    const v = res.headers.get("x-mloop-model-version");
    versions[v] = (versions[v] ?? 0) + 1;
    if (which === "after") {
      await fetch(`${url}/feedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request_id: res.headers.get("x-request-id"), label: chunk.map((x) => x[4]) }) });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
console.log(`sent ${rows.length * repeat} rows (${which}); answered by version: ${JSON.stringify(versions)}`);
