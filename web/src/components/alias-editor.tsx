import { useState, type FormEvent } from "react";
import type * as api from "../api.js";
import { Link } from "../router.js";
import { versionPath } from "./model-tables.js";

/** A model's aliases, each with Delete, and a form to point an alias at a version; `onSet` resolves true when it worked. */
export function AliasEditor({
  name,
  aliases,
  versions,
  onSet,
  onDelete,
}: {
  name: string;
  aliases: { alias: string; version: string }[];
  versions: api.ModelVersion[];
  onSet: (alias: string, version: string) => Promise<boolean>;
  onDelete: (alias: string) => unknown;
}) {
  const [alias, setAlias] = useState("");
  const [aliasVersion, setAliasVersion] = useState("");
  const handleSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (await onSet(alias.trim(), aliasVersion)) setAlias("");
  };
  return (
    <>
      <ul className="plain">
        {aliases.map((a) => (
          <li key={a.alias}>
            <span className="badge alias">@{a.alias}</span> → <Link to={versionPath(name, a.version)}>Version {a.version}</Link>{" "}
            <button type="button" className="small danger" aria-label={`Delete alias ${a.alias}`} onClick={() => onDelete(a.alias)}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={handleSubmit} aria-label="Set alias">
        <label>
          Alias <input value={alias} onChange={(e) => setAlias(e.target.value)} placeholder="champion" />
        </label>
        <label>
          Version{" "}
          <select value={aliasVersion} onChange={(e) => setAliasVersion(e.target.value)}>
            <option value="">Choose…</option>
            {versions.map((v) => (
              <option key={v.version} value={v.version}>
                {v.version}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="small primary" disabled={!alias.trim() || !aliasVersion}>
          Set alias
        </button>
      </form>
    </>
  );
}
