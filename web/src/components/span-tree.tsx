/** A trace's spans as a tree (parent → children, in start order) beside the selected span's details. */
import { useMemo, useState } from "react";
import { attributeValue, type TraceDataSpan } from "../traces-api.js";

interface Node {
  span: TraceDataSpan;
  children: Node[];
}

function nanos(v: number | string | null): number {
  return v === null ? NaN : Number(v) / 1e6;
}

function buildTree(spans: TraceDataSpan[]): Node[] {
  const nodes = new Map(spans.map((s) => [s.span_id, { span: s, children: [] as Node[] }]));
  const roots: Node[] = [];
  for (const n of nodes.values()) {
    const parent = n.span.parent_span_id ? nodes.get(n.span.parent_span_id) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  const byStart = (a: Node, b: Node) => nanos(a.span.start_time_unix_nano) - nanos(b.span.start_time_unix_nano);
  const sort = (list: Node[]) => {
    list.sort(byStart);
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots;
}

function Pretty({ value }: { value: unknown }) {
  if (value === undefined) return <span className="muted">none</span>;
  return <pre className="mono span-value">{typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>;
}

const HIDDEN = new Set(["mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.traceRequestId", "mlflow.spanType"]);

function SpanDetails({ span }: { span: TraceDataSpan }) {
  const attrs = Object.keys(span.attributes).filter((k) => !HIDDEN.has(k)).sort();
  const ms = nanos(span.end_time_unix_nano) - nanos(span.start_time_unix_nano);
  return (
    <section className="card span-details" aria-label={`Span ${span.name}`}>
      <div className="card-head">
        <h2>{span.name}</h2>
        <span className="muted">
          {String(attributeValue(span, "mlflow.spanType") ?? "UNKNOWN")} · {Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : "running"} · {span.status.code.replace("STATUS_CODE_", "")}
          {span.status.message ? `: ${span.status.message}` : ""}
        </span>
      </div>
      <h3>Inputs</h3>
      <Pretty value={attributeValue(span, "mlflow.spanInputs")} />
      <h3>Outputs</h3>
      <Pretty value={attributeValue(span, "mlflow.spanOutputs")} />
      <h3>Attributes</h3>
      {attrs.length === 0 ? (
        <p className="muted">none</p>
      ) : (
        <table className="kv">
          <tbody>
            {attrs.map((k) => (
              <tr key={k}>
                <th className="mono">{k}</th>
                <td className="mono">{span.attributes[k]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {span.events.length > 0 && (
        <>
          <h3>Events</h3>
          <ul>
            {span.events.map((e, i) => (
              <li key={i}>
                <strong>{e.name}</strong> <span className="mono">{JSON.stringify(e.attributes)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

function TreeLevel({ nodes, selected, onSelect, depth }: { nodes: Node[]; selected: string | undefined; onSelect: (id: string) => void; depth: number }) {
  return (
    <ul role={depth === 0 ? "tree" : "group"} aria-label={depth === 0 ? "Spans" : undefined} className="span-tree">
      {nodes.map((n) => (
        <li key={n.span.span_id} role="treeitem" aria-selected={selected === n.span.span_id} aria-expanded={n.children.length > 0 || undefined}>
          <button type="button" className={`span-node${n.span.status.code === "STATUS_CODE_ERROR" ? " error" : ""}`} onClick={() => onSelect(n.span.span_id)}>
            {n.span.name}
          </button>
          {n.children.length > 0 && <TreeLevel nodes={n.children} selected={selected} onSelect={onSelect} depth={depth + 1} />}
        </li>
      ))}
    </ul>
  );
}

export function SpanTree({ spans }: { spans: TraceDataSpan[] }) {
  const roots = useMemo(() => buildTree(spans), [spans]);
  const [selected, setSelected] = useState<string | undefined>(roots[0]?.span.span_id);
  const span = spans.find((s) => s.span_id === selected) ?? roots[0]?.span;
  if (spans.length === 0) return <p className="muted">This trace has no spans.</p>;
  return (
    <div className="span-layout">
      <TreeLevel nodes={roots} selected={span?.span_id} onSelect={setSelected} depth={0} />
      {span && <SpanDetails span={span} />}
    </div>
  );
}
