/**
 * The SDK's convention, enforced: every exported function and class of
 * `src/client/`, and every public method of those classes, carries a JSDoc
 * comment with an `@example`.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const dir = import.meta.dirname;
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));

function hasExample(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === "example");
}

function isExported(node: ts.Node): boolean {
  return !!ts.getCombinedModifierFlags(node as ts.Declaration) && (ts.getCombinedModifierFlags(node as ts.Declaration) & ts.ModifierFlags.Export) !== 0;
}

function undocumented(file: string): string[] {
  const src = ts.createSourceFile(file, fs.readFileSync(path.join(dir, file), "utf8"), ts.ScriptTarget.ES2023, true);
  const missing: string[] = [];
  for (const stmt of src.statements) {
    if (ts.isFunctionDeclaration(stmt) && isExported(stmt) && !hasExample(stmt)) missing.push(`${file}: function ${stmt.name?.text}`);
    if (ts.isClassDeclaration(stmt) && isExported(stmt)) {
      const cls = stmt.name?.text ?? "?";
      if (!hasExample(stmt)) missing.push(`${file}: class ${cls}`);
      for (const m of stmt.members) {
        if (!ts.isMethodDeclaration(m) && !ts.isConstructorDeclaration(m)) continue;
        const flags = ts.getCombinedModifierFlags(m);
        if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
        const name = ts.isConstructorDeclaration(m) ? "constructor" : m.name.getText(src);
        if (name.startsWith("#")) continue;
        // A constructor documented by its class example needs no second one when it takes only options.
        if (ts.isConstructorDeclaration(m) && m.parameters.length <= 1) continue;
        if (!hasExample(m)) missing.push(`${file}: ${cls}.${name}`);
      }
    }
  }
  return missing;
}

describe("client JSDoc", () => {
  it.each(files)("%s documents every export with an example", (file) => {
    expect(undocumented(file)).toEqual([]);
  });
});
