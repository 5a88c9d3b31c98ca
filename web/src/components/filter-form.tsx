import type { FormEvent, ReactNode } from "react";

/**
 * A search box for MLflow's filter language: Apply, Clear (when `onClear` is given),
 * and below it either the server's error for the filter or a help line.
 */
export function FilterForm({
  id,
  label,
  placeholder,
  value,
  onChange,
  onSubmit,
  onClear,
  error,
  help,
}: {
  id: string;
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
  onSubmit: (e: FormEvent) => void;
  onClear?: () => void;
  error?: string;
  help: ReactNode;
}) {
  return (
    <form className="filter-form" onSubmit={onSubmit} role="search">
      <label htmlFor={id}>{label}</label>
      <div className="filter-row">
        <input
          id={id}
          className="mono"
          type="search"
          spellCheck={false}
          placeholder={placeholder}
          value={value}
          onChange={(e) => onChange(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error` : `${id}-help`}
        />
        <button type="submit" className="primary">
          Apply
        </button>
        {onClear && (
          <button type="button" onClick={onClear}>
            Clear
          </button>
        )}
      </div>
      {error ? (
        <div className="error-box" role="alert" id={`${id}-error`}>
          {error}
        </div>
      ) : (
        <p id={`${id}-help`} className="help">
          {help}
        </p>
      )}
    </form>
  );
}
