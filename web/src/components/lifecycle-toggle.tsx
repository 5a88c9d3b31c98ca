import type { ViewType } from "../../../src/wire/index.js";

const VIEWS = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"] as const satisfies readonly ViewType[];

/** Active / Deleted / All: the `ViewType` of a search, as a segmented control. */
export function LifecycleToggle({ value, onChange }: { value: ViewType; onChange: (view: ViewType) => void }) {
  return (
    <div className="segmented" role="group" aria-label="Lifecycle">
      {VIEWS.map((v) => (
        <button key={v} type="button" aria-pressed={value === v} onClick={() => onChange(v)}>
          {v === "ACTIVE_ONLY" ? "Active" : v === "ALL" ? "All" : "Deleted"}
        </button>
      ))}
    </div>
  );
}
