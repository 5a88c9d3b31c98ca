/**
 * The stage graph: an edge A → B when a dependency of B is an output of A
 * (the same path, inside it, or holding it), target selection as `dvc repro`
 * selects (upstream closure, `--single-item`, `--downstream`) and the text,
 * dot and mermaid pictures `mloop dag` prints.
 */
import { invalidParameter } from "../errors.js";
import type { Pipeline, Stage } from "./spec.js";

export interface Graph {
  stages: Stage[];
  byName: Map<string, Stage>;
  /** stage → the stages it depends on. */
  upstream: Map<string, Set<string>>;
  downstream: Map<string, Set<string>>;
  /** Stage names in an order where every stage follows its upstream ones (dvc.yaml order otherwise). */
  order: string[];
}

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let i = p.lastIndexOf("/"); i > 0; i = p.lastIndexOf("/", i - 1)) out.push(p.slice(0, i));
  return out;
}

export function buildGraph(pipeline: Pipeline, shown = "dvc.yaml"): Graph {
  const { stages } = pipeline;
  const byName = new Map(stages.map((s) => [s.name, s]));
  const outOwner = new Map<string, string>();
  const underDir = new Map<string, Set<string>>();
  for (const s of stages) {
    for (const o of s.outs) {
      const other = outOwner.get(o.rel);
      if (other !== undefined) throw invalidParameter(`${shown}: output '${o.rel}' is specified in stages '${other}' and '${s.name}'`);
      for (const a of ancestors(o.rel)) {
        const owner = outOwner.get(a);
        if (owner !== undefined) throw invalidParameter(`${shown}: output '${o.rel}' of stage '${s.name}' is inside output '${a}' of stage '${owner}'`);
      }
      const inside = underDir.get(o.rel);
      if (inside) throw invalidParameter(`${shown}: output '${o.rel}' of stage '${s.name}' holds an output of stage '${[...inside][0]}'`);
      outOwner.set(o.rel, s.name);
      for (const a of ancestors(o.rel)) {
        const set = underDir.get(a) ?? new Set<string>();
        set.add(s.name);
        underDir.set(a, set);
      }
    }
  }
  const upstream = new Map<string, Set<string>>(stages.map((s) => [s.name, new Set<string>()]));
  const downstream = new Map<string, Set<string>>(stages.map((s) => [s.name, new Set<string>()]));
  const link = (from: string, to: string) => {
    if (from === to) return;
    upstream.get(to)!.add(from);
    downstream.get(from)!.add(to);
  };
  for (const s of stages) {
    const paths = [...s.deps.map((d) => d.rel), ...s.params.map((p) => p.rel)];
    for (const d of paths) {
      const exact = outOwner.get(d);
      if (exact !== undefined) link(exact, s.name);
      for (const a of ancestors(d)) {
        const owner = outOwner.get(a);
        if (owner !== undefined) link(owner, s.name);
      }
      for (const owner of underDir.get(d) ?? []) link(owner, s.name);
    }
  }
  // Kahn's algorithm, taking stages in dvc.yaml order among the ready ones.
  const indeg = new Map(stages.map((s) => [s.name, upstream.get(s.name)!.size]));
  const position = new Map(stages.map((s, i) => [s.name, i]));
  const ready = stages.filter((s) => indeg.get(s.name) === 0).map((s) => s.name);
  const order: string[] = [];
  while (ready.length) {
    ready.sort((a, b) => position.get(a)! - position.get(b)!);
    const n = ready.shift()!;
    order.push(n);
    for (const d of downstream.get(n)!) {
      indeg.set(d, indeg.get(d)! - 1);
      if (indeg.get(d) === 0) ready.push(d);
    }
  }
  if (order.length !== stages.length) {
    const stuck = stages.filter((s) => !order.includes(s.name)).map((s) => s.name);
    throw invalidParameter(`${shown}: the pipeline has a cycle through stages ${stuck.map((s) => `'${s}'`).join(", ")}`);
  }
  return { stages, byName, upstream, downstream, order };
}

/** Stage names a target means: `name`, `dvc.yaml:name`, a foreach/matrix group `name` (all `name@…`), or `dvc.yaml`. */
export function resolveTarget(graph: Graph, target: string): string[] {
  let t = target;
  if (t === "dvc.yaml" || t === "./dvc.yaml") return [...graph.order];
  const colon = t.lastIndexOf(":");
  if (colon > 0 && t.slice(0, colon).endsWith("dvc.yaml")) t = t.slice(colon + 1);
  if (graph.byName.has(t)) return [t];
  const group = graph.stages.filter((s) => s.name.startsWith(`${t}@`)).map((s) => s.name);
  if (group.length) return group;
  throw invalidParameter(`'${target}' is not a stage of dvc.yaml (stages: ${graph.order.slice(0, 8).join(", ")}${graph.order.length > 8 ? ", …" : ""})`);
}

function closure(start: Iterable<string>, edges: Map<string, Set<string>>): Set<string> {
  const seen = new Set<string>();
  const stack = [...start];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of edges.get(n) ?? []) stack.push(m);
  }
  return seen;
}

export interface Selection {
  targets?: string[];
  singleItem?: boolean;
  downstream?: boolean;
}

/** The stages a repro or status of `targets` covers, in graph order. */
export function selectStages(graph: Graph, sel: Selection): string[] {
  if (!sel.targets || sel.targets.length === 0) return [...graph.order];
  const named = sel.targets.flatMap((t) => resolveTarget(graph, t));
  const chosen = sel.singleItem ? new Set(named) : sel.downstream ? closure(named, graph.downstream) : closure(named, graph.upstream);
  return graph.order.filter((n) => chosen.has(n));
}

/** `mloop dag`: one line per stage with the stages it depends on, or Graphviz dot / mermaid. */
export function formatDag(graph: Graph, names: string[], format: "text" | "dot" | "mermaid" = "text", outs = false): string {
  const keep = new Set(names);
  if (outs) {
    const edges: [string, string][] = [];
    const nodes = new Set<string>();
    for (const n of names) {
      const s = graph.byName.get(n)!;
      for (const o of s.outs) nodes.add(o.rel);
      for (const d of s.deps) {
        nodes.add(d.rel);
        for (const o of s.outs) edges.push([d.rel, o.rel]);
      }
    }
    return render([...nodes], edges, format);
  }
  const edges: [string, string][] = [];
  for (const n of names) for (const u of graph.upstream.get(n)!) if (keep.has(u)) edges.push([u, n]);
  return render(names, edges, format);
}

function render(nodes: string[], edges: [string, string][], format: "text" | "dot" | "mermaid"): string {
  const q = (s: string) => JSON.stringify(s);
  if (format === "dot") {
    return `strict digraph  {\n${nodes.map((n) => `${q(n)};\n`).join("")}${edges.map(([a, b]) => `${q(a)} -> ${q(b)};\n`).join("")}}\n`;
  }
  if (format === "mermaid") {
    const id = new Map(nodes.map((n, i) => [n, `node${i + 1}`]));
    return `flowchart TD\n${nodes.map((n) => `\t${id.get(n)}[${q(n)}]\n`).join("")}${edges.map(([a, b]) => `\t${id.get(a)}-->${id.get(b)}\n`).join("")}`;
  }
  const ups = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const [a, b] of edges) ups.get(b)?.push(a);
  return nodes.map((n) => (ups.get(n)!.length ? `${n}  <-  ${ups.get(n)!.join(", ")}` : n)).join("\n") + "\n";
}
