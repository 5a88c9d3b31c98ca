import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MlflowError } from "../../src/errors.js";
import { openDatabase, type SqlDriver } from "../../src/store/index.js";
import { createTestDatabase, SKIP_POSTGRES_REASON, TEST_POSTGRES_URL } from "./pg.js";

/** A fresh, migrated, empty database for one test, and how to get rid of it. */
interface Fresh {
  db: SqlDriver;
  dispose(): Promise<void>;
}

async function freshSqlite(): Promise<Fresh> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-contract-"));
  const db = await openDatabase(`sqlite:///${path.join(dir, "db.sqlite")}`);
  return { db, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function freshPostgres(): Promise<Fresh> {
  const t = await createTestDatabase();
  const db = await openDatabase(t.uri);
  return { db, dispose: () => t.drop() };
}

/**
 * Runs one store contract suite against SQLite and, with
 * `MLOOP_TEST_POSTGRES_URL` set, PostgreSQL (otherwise that half is skipped
 * and says why). Every test gets its own empty database: `ctx.db`.
 */
export function describeStoreContract(title: string, suite: (ctx: { readonly db: SqlDriver }) => void): void {
  const backends: [string, () => Promise<Fresh>][] = [["sqlite", freshSqlite]];
  if (TEST_POSTGRES_URL) backends.push(["postgres", freshPostgres]);
  for (const [name, fresh] of backends) {
    describe(`${title} contract: ${name}`, () => {
      let current: Fresh | undefined;
      const ctx = {
        get db(): SqlDriver {
          if (!current) throw new Error("no database outside a test");
          return current.db;
        },
      };
      beforeEach(async () => {
        current = await fresh();
      });
      afterEach(async () => {
        await current?.db.close();
        await current?.dispose();
        current = undefined;
      });
      suite(ctx);
    });
  }
  if (!TEST_POSTGRES_URL) {
    describe(`${title} contract: postgres`, () => {
      it.skip(SKIP_POSTGRES_REASON, () => {});
    });
  }
}

/** Awaits `p` and checks it failed with MLflow's error `code` (and a message matching `message`). */
export async function expectMlflowError(p: Promise<unknown>, code: string, message?: string | RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MlflowError);
  expect((err as MlflowError).errorCode).toBe(code);
  if (message) expect((err as MlflowError).message).toMatch(message);
}
