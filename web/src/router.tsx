/**
 * A small History-API router: the URL is the state. Pages read their path
 * parameters and query (filter, sort, columns, selected runs) from it and
 * change it through `navigate`, so every view can be shared as a link.
 */
import { useEffect, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

const listeners = new Set<() => void>();

function notify(): void {
  for (const l of listeners) l();
}

window.addEventListener("popstate", notify);

/** A JSON list of strings as MLflow writes it in a hash URL's query (`runs=["a","b"]`); a plain comma list is read too. */
function listParam(raw: string | null): string[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    if (Array.isArray(v)) return v.map(String).filter(Boolean);
  } catch {
    // not JSON
  }
  return raw.split(",").filter(Boolean);
}

/**
 * The page of this UI for one of MLflow's hash-style URLs (the links the `mlflow` client prints,
 * `#/experiments/1/runs/<run_id>`, and MLflow's other routes for experiments, runs, models and model
 * versions); undefined when `hash` is not such a URL (`#main`, empty). Path segments stay
 * percent-encoded, as the router's `match` decodes them.
 */
export function pathFromMlflowHash(hash: string): string | undefined {
  if (!hash.startsWith("#/")) return undefined;
  const [rawPath = "", rawQuery = ""] = hash.slice(1).split(/\?(.*)/s, 2);
  const q = new URLSearchParams(rawQuery);
  const seg = rawPath.split("/").filter(Boolean);
  const [head, a, b, c, d] = seg;
  const withQuery = (path: string, query: Record<string, string | undefined>) => href(path, query);
  switch (head) {
    case undefined:
    case "experiments":
      if (!a) return "/";
      if (b === "runs" && c) {
        const tab = d === "artifacts" || d === "artifactPath" ? "artifacts" : d === "metrics" || d === "model-metrics" || d === "system-metrics" ? "metrics" : undefined;
        return withQuery(`/experiments/${a}/runs/${c}`, { tab });
      }
      if (b === "traces") return c ? `/experiments/${a}/traces/${c}` : `/experiments/${a}/traces`;
      // The runs tab, MLflow 2's saved search (`/s?searchInput=…`), the logged-models and other tabs: the experiment.
      return `/experiments/${a}`;
    case "runs":
      return a ? `/runs/${a}` : "/";
    case "compare-runs": {
      const runs = listParam(q.get("runs"));
      return withQuery("/compare", { runs: runs.join(",") || undefined, exp: listParam(q.get("experiments"))[0] });
    }
    case "metric": {
      const runs = listParam(q.get("runs"));
      return withQuery("/compare", { runs: runs.join(",") || undefined, exp: listParam(q.get("experiments"))[0], metric: a ? safeDecode(a) : undefined });
    }
    case "compare-experiments":
      return "/";
    case "models":
      if (!a) return "/models";
      if (b === "versions" && c) return `/models/${a}/versions/${c}`;
      return `/models/${a}`;
    default:
      return rawPath + (rawQuery ? `?${rawQuery}` : "");
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Opens an MLflow hash URL as this UI's own page, in place (Back does not return to the hash). */
function adoptMlflowHash(): void {
  const to = pathFromMlflowHash(window.location.hash);
  if (to === undefined) return;
  window.history.replaceState(null, "", to);
  notify();
}

adoptMlflowHash();
window.addEventListener("hashchange", adoptMlflowHash);

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

const snapshot = () => window.location.pathname + window.location.search;

/** The current path and query; re-renders on every navigation. */
export function useLocation(): { pathname: string; query: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const [pathname, search = ""] = href.split("?", 2) as [string, string?];
  return { pathname, query: new URLSearchParams(search) };
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === snapshot()) return;
  if (opts.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  notify();
}

/** Sets or clears query parameters of the current URL (replacing history by default: typing must not flood Back). */
export function setQuery(changes: Record<string, string | undefined | null>, opts: { push?: boolean } = {}): void {
  const q = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === null || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(window.location.pathname + (s ? `?${s}` : ""), { replace: !opts.push });
}

export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const s = q.toString();
  return path + (s ? `?${s}` : "");
}

/** An anchor that navigates in-app on a plain click and behaves like a link otherwise (new tab, copy address). */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const { to, onClick, ...rest } = props;
  const handleClick = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handleClick} {...rest} />;
}

/** Matches `pattern` like `/experiments/:id` against a path; returns decoded parameters or undefined. */
export function match(pattern: string, pathname: string): Record<string, string> | undefined {
  const p = pattern.split("/");
  const s = pathname.replace(/\/+$/, "").split("/");
  if (p.length !== s.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const pp = p[i]!;
    const sp = s[i]!;
    if (pp.startsWith(":")) {
      try {
        out[pp.slice(1)] = decodeURIComponent(sp);
      } catch {
        return undefined;
      }
    } else if (pp !== sp) return undefined;
  }
  return out;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · mloop` : "mloop";
  }, [title]);
}
