/**
 * DVC's config files (`.dvc/config`, `.dvc/config.local`): INI as configobj
 * reads and writes it, with sections such as `[core]` and `['remote "name"']`,
 * four-space indented `key = value` lines, and values quoted when they hold a
 * comma or a quote.
 */
import { invalidParameter } from "../errors.js";

export type Sections = Map<string, Map<string, string>>;

function unquote(v: string): string {
  const t = v.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

function stripComment(v: string): string {
  // a `#` outside quotes starts a comment
  let q: string | undefined;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (q) {
      if (c === q) q = undefined;
    } else if (c === '"' || c === "'") q = c;
    else if (c === "#") return v.slice(0, i);
  }
  return v;
}

export function parseIni(text: string, name: string): Sections {
  const sections: Sections = new Map();
  let current: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const sec = /^\[(.*)\]$/.exec(line);
    if (sec) {
      const title = unquote(sec[1]!);
      current = sections.get(title) ?? new Map();
      sections.set(title, current);
      return;
    }
    const eq = line.indexOf("=");
    if (eq <= 0 || !current) throw invalidParameter(`${name}: line ${i + 1} is not 'key = value' inside a [section]`);
    current.set(line.slice(0, eq).trim(), unquote(stripComment(line.slice(eq + 1))));
  });
  return sections;
}

function quoteValue(v: string): string {
  if (/[,"'#]|^\s|\s$/.test(v) || v === "") return v.includes('"') ? `'${v}'` : `"${v}"`;
  return v;
}

export function formatIni(sections: Sections): string {
  const out: string[] = [];
  // DVC keeps [core] first.
  const ordered = [...sections].sort(([a], [b]) => Number(b === "core") - Number(a === "core"));
  for (const [title, values] of ordered) {
    if (values.size === 0) continue;
    out.push(title.includes('"') ? `['${title}']` : `[${title}]`);
    for (const [k, v] of values) out.push(`    ${k} = ${quoteValue(v)}`);
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}
