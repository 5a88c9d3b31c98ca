import { lazy, Suspense } from "react";
import { Link, match, useLocation } from "./router.js";
import { ExperimentsPage } from "./pages/experiments.js";
import { RunsPage } from "./pages/runs.js";
import { RunPage } from "./pages/run.js";

// Pages off the tracking path load on first visit, keeping the first load small.
const ComparePage = lazy(() => import("./pages/compare.js").then((m) => ({ default: m.ComparePage })));
const ModelsPage = lazy(() => import("./pages/models.js").then((m) => ({ default: m.ModelsPage })));
const ModelPage = lazy(() => import("./pages/models.js").then((m) => ({ default: m.ModelPage })));
const TracesPage = lazy(() => import("./pages/traces.js").then((m) => ({ default: m.TracesPage })));
const TracePage = lazy(() => import("./pages/traces.js").then((m) => ({ default: m.TracePage })));
const DeploymentsPage = lazy(() => import("./pages/deployments.js").then((m) => ({ default: m.DeploymentsPage })));
const DeploymentPage = lazy(() => import("./pages/deployments.js").then((m) => ({ default: m.DeploymentPage })));
const ModelVersionPage = lazy(() => import("./pages/models.js").then((m) => ({ default: m.ModelVersionPage })));

function Route() {
  const { pathname } = useLocation();
  let m: Record<string, string> | undefined;
  if (pathname === "/" || pathname === "/experiments") return <ExperimentsPage />;
  if ((m = match("/experiments/:id", pathname))) return <RunsPage experimentId={m.id!} />;
  if ((m = match("/experiments/:id/traces", pathname))) return <TracesPage experimentId={m.id!} />;
  if ((m = match("/experiments/:id/traces/:traceId", pathname))) return <TracePage experimentId={m.id!} traceId={m.traceId!} />;
  if ((m = match("/experiments/:id/runs/:runId", pathname))) return <RunPage experimentId={m.id!} runId={m.runId!} />;
  if ((m = match("/runs/:runId", pathname))) return <RunPage runId={m.runId!} />;
  if (pathname === "/compare") return <ComparePage />;
  if (pathname === "/models") return <ModelsPage />;
  if ((m = match("/models/:name", pathname))) return <ModelPage name={m.name!} />;
  if (pathname === "/deployments") return <DeploymentsPage />;
  if ((m = match("/deployments/:name", pathname))) return <DeploymentPage name={m.name!} />;
  if ((m = match("/models/:name/versions/:version", pathname))) return <ModelVersionPage name={m.name!} version={m.version!} />;
  return (
    <main className="page" id="main">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{pathname}</code>. <Link to="/">Go to experiments</Link>.
      </p>
    </main>
  );
}

export function App() {
  const { pathname } = useLocation();
  const section = pathname.startsWith("/models") ? "models" : pathname.startsWith("/deployments") ? "deployments" : "experiments";
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="mloop home">
          <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path d="M8 21c3-9 6-9 8 0s5 9 8 0" fill="none" stroke="#fff" strokeWidth="3" strokeLinecap="round" />
          </svg>
          mloop
        </Link>
        <nav aria-label="Sections">
          <Link to="/" aria-current={section === "experiments" ? "page" : undefined}>
            Experiments
          </Link>
          <Link to="/models" aria-current={section === "models" ? "page" : undefined}>
            Models
          </Link>
          <Link to="/deployments" aria-current={section === "deployments" ? "page" : undefined}>
            Deployments
          </Link>
        </nav>
      </header>
      <Suspense fallback={<p className="page muted">Loading…</p>}>
        <Route />
      </Suspense>
    </>
  );
}
