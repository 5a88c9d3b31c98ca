import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, SKIP_POSTGRES_REASON, TEST_POSTGRES_URL, type TestDatabase } from "../../test/helpers/pg.js";
import { MlflowError } from "../errors.js";
import { openDatabase } from "./factory.js";
import { migrate } from "./migrations.js";
import { insertShape, PostgresDriver, splitScript, toPgPlaceholders } from "./postgres.js";
import { MIGRATIONS } from "./schema/index.js";

describe("placeholder rewriting", () => {
  it("numbers ? placeholders in order", () => {
    expect(toPgPlaceholders("SELECT * FROM t WHERE a = ? AND b IN (?, ?)")).toBe("SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)");
  });

  it("leaves ? inside strings, identifiers, comments and dollar quotes alone", () => {
    expect(toPgPlaceholders("SELECT '?', 'it''s ?', ? FROM \"we?ird\" -- what?\nWHERE x = ?")).toBe(
      "SELECT '?', 'it''s ?', $1 FROM \"we?ird\" -- what?\nWHERE x = $2",
    );
    expect(toPgPlaceholders("SELECT /* ? */ ?, $$ ? $$, $tag$ ?'? $tag$, ?")).toBe("SELECT /* ? */ $1, $$ ? $$, $tag$ ?'? $tag$, $2");
    expect(toPgPlaceholders("SELECT E'\\'?', ?")).toBe("SELECT E'\\'?', $1");
  });

  it("keeps jsonb operators ?| and ?&, reads ?? as a literal ? and ? || as concatenation", () => {
    expect(toPgPlaceholders("SELECT doc ?| ARRAY[?] , doc ?& ARRAY['a'], doc ?? ?")).toBe("SELECT doc ?| ARRAY[$1] , doc ?& ARRAY['a'], doc ? $2");
    expect(toPgPlaceholders("SELECT ?||'x', ? || ?")).toBe("SELECT $1||'x', $2 || $3");
  });

  it("does not take $1 positional parameters or identifiers with $ for dollar quotes", () => {
    expect(toPgPlaceholders("SELECT a$b, ? FROM t")).toBe("SELECT a$b, $1 FROM t");
  });
});

describe("multi-row insert shapes", () => {
  it("recognises INSERT … VALUES (?, …) with a tail and the conflict key of an upsert", () => {
    expect(insertShape("INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value")).toEqual({
      head: "INSERT INTO tags (run_uuid, key, value)",
      columns: 3,
      tail: "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
      key: [0, 1],
    });
    expect(insertShape("INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING")).toMatchObject({ columns: 2, tail: "ON CONFLICT DO NOTHING" });
    expect(insertShape("INSERT INTO t (a, b) VALUES (?, ?)")).toMatchObject({ columns: 2, tail: "" });
  });

  it("refuses shapes it cannot batch safely", () => {
    expect(insertShape("INSERT INTO t (a, b) VALUES (?, 'x')")).toBeNull();
    expect(insertShape("INSERT INTO t (a) VALUES (?) RETURNING a")).toBeNull();
    expect(insertShape("INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO UPDATE SET b = ?")).toBeNull();
    expect(insertShape("INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (c) DO UPDATE SET b = excluded.b")).toBeNull();
    expect(insertShape("UPDATE t SET a = ?")).toBeNull();
  });
});

describe("script splitting", () => {
  it("splits on ; outside strings, comments and dollar quotes", () => {
    expect(splitScript("CREATE TABLE a (x TEXT DEFAULT ';');\n-- a comment; here\nCREATE INDEX i ON a (x);\n$$;$$;\n")).toEqual([
      "CREATE TABLE a (x TEXT DEFAULT ';')",
      "-- a comment; here\nCREATE INDEX i ON a (x)",
      "$$;$$",
    ]);
  });
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe("an unreachable database", () => {
  it("fails with a retryable TEMPORARILY_UNAVAILABLE, not a crash", async () => {
    const port = await closedPort();
    const err = await PostgresDriver.connect(`postgresql://postgres@127.0.0.1:${port}/none`, { connectionTimeoutMillis: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowError);
    expect((err as MlflowError).errorCode).toBe("TEMPORARILY_UNAVAILABLE");
    expect((err as MlflowError).status).toBe(503);
  });
});

describe.skipIf(!TEST_POSTGRES_URL)("PostgreSQL driver", () => {
  let tdb: TestDatabase;
  let db: PostgresDriver;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = await PostgresDriver.connect(tdb.uri);
    await db.exec(`
      CREATE TABLE kinds (id BIGSERIAL PRIMARY KEY, big BIGINT, dbl DOUBLE PRECISION, flag BOOLEAN, num NUMERIC, txt TEXT);
      CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE wide (a INTEGER, b INTEGER, c INTEGER, d INTEGER);
    `);
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it("returns BIGINT and NUMERIC as numbers, booleans as 1/0, and keeps NaN and infinities", async () => {
    const big = 2 ** 53 - 1;
    for (const dbl of [1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.1, 1e308]) {
      const row = await db.get<{ id: number; big: number; dbl: number; flag: number; num: number; txt: string }>(
        "INSERT INTO kinds (big, dbl, flag, num, txt) VALUES (?, ?, ?::boolean, ?, ?) RETURNING *",
        [big, dbl, "true", "12.25", "a?b"],
      );
      expect(row).toMatchObject({ big, flag: 1, num: 12.25, txt: "a?b" });
      expect(typeof row!.id).toBe("number");
      expect(Object.is(row!.dbl, dbl) || (Number.isNaN(dbl) && Number.isNaN(row!.dbl))).toBe(true);
    }
    const agg = await db.get<{ n: number; s: number; f: number }>("SELECT COUNT(*) AS n, SUM(big) AS s, (1 = 2) AS f FROM kinds WHERE big = ?", [big]);
    expect(agg).toEqual({ n: 6, s: big * 6, f: 0 });
    const bi = await db.get<{ big: number }>("SELECT big FROM kinds WHERE big = ?", [BigInt(big)]);
    expect(bi!.big).toBe(big);
  });

  it("upserts with ON CONFLICT and RETURNING", async () => {
    const first = await db.get<{ k: string; n: number }>("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = kv.n + 1 RETURNING k, n", ["a", "1"]);
    const second = await db.get<{ k: string; n: number }>("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = kv.n + 1 RETURNING k, n", ["a", "2"]);
    expect([first, second]).toEqual([{ k: "a", n: 0 }, { k: "a", n: 1 }]);
    expect((await db.run("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT DO NOTHING", ["a", "3"])).changes).toBe(0);
  });

  it("runs runMany as multi-row statements with the result of running the rows one by one", async () => {
    // The same key several times in one upsert: the last row wins, as it would row by row.
    const rows = [
      ["x", "1"],
      ["y", "1"],
      ["x", "2"],
      ["x", "3"],
      ["z", "1"],
    ];
    await db.runMany("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", rows);
    expect(await db.all("SELECT k, v FROM kv WHERE k IN (?, ?, ?) ORDER BY k", ["x", "y", "z"])).toEqual([
      { k: "x", v: "3" },
      { k: "y", v: "1" },
      { k: "z", v: "1" },
    ]);
    // More rows than one statement may carry parameters for.
    const many = Array.from({ length: 20_000 }, (_, i) => [i, i + 1, i + 2, i + 3]);
    await db.runMany("INSERT INTO wide (a, b, c, d) VALUES (?, ?, ?, ?)", many);
    expect(await db.get("SELECT COUNT(*) AS n, SUM(d) AS s FROM wide")).toEqual({ n: 20_000, s: (20_000 * 19_999) / 2 + 3 * 20_000 });
  });

  it("rolls back runMany as a whole when a row fails", async () => {
    const err = await db.runMany("INSERT INTO kv (k, v) VALUES (?, ?)", [["new1", "1"], ["new2", null]]).catch((e: unknown) => e);
    expect(err).toBeTruthy();
    expect(await db.get("SELECT k FROM kv WHERE k = ?", ["new1"])).toBeUndefined();
  });

  it("runs a deadlocked transaction again instead of failing it", async () => {
    await db.runMany("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING", [["d1", "0"], ["d2", "0"]]);
    let attempts = 0;
    let bothLocked!: () => void;
    const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
    let locked = 0;
    const lockBoth = (first: string, second: string) =>
      db.transaction(async (tx) => {
        attempts++;
        await tx.run("UPDATE kv SET n = n + 1 WHERE k = ?", [first]);
        if (++locked === 2) bothLocked();
        await Promise.race([barrier, new Promise((r) => setTimeout(r, 2000))]);
        await tx.run("UPDATE kv SET n = n + 1 WHERE k = ?", [second]);
      });
    await Promise.all([lockBoth("d1", "d2"), lockBoth("d2", "d1")]);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(await db.all("SELECT k, n FROM kv WHERE k IN (?, ?) ORDER BY k", ["d1", "d2"])).toEqual([
      { k: "d1", n: 2 },
      { k: "d2", n: 2 },
    ]);
  });

  it("applies migrations once when several replicas start together", async () => {
    const fresh = await createTestDatabase();
    try {
      const drivers = await Promise.all(Array.from({ length: 4 }, () => PostgresDriver.connect(fresh.uri)));
      const applied = await Promise.all(drivers.map((d) => migrate(d, MIGRATIONS)));
      expect(applied.flat().sort()).toEqual(MIGRATIONS.map((m) => m.version).sort());
      const rows = await drivers[0]!.all<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
      await Promise.all(drivers.map((d) => d.close()));
      // And the factory opens the migrated database without changing it.
      const again = await openDatabase(fresh.uri);
      expect((await again.get<{ name: string }>("SELECT name FROM experiments WHERE experiment_id = ?", [0]))!.name).toBe("Default");
      await again.close();
    } finally {
      await fresh.drop();
    }
  });
});

describe.skipIf(!!TEST_POSTGRES_URL)("PostgreSQL driver", () => {
  it.skip(SKIP_POSTGRES_REASON, () => {});
});
