import { beforeEach, expect, it } from "vitest";
import { describeStoreContract, expectMlflowError } from "../../test/helpers/contract.js";
import { WebhookStore, type DeliveryRow, type NewDelivery, type WebhookWithSecret } from "./webhooks-store.js";

describeStoreContract("webhook store (webhooks and the delivery outbox)", (ctx) => {
  let store: WebhookStore;
  beforeEach(() => {
    store = new WebhookStore(ctx.db);
    n = 0;
  });

  const hook = (id: string, over: Partial<WebhookWithSecret> = {}): WebhookWithSecret => ({
    webhook_id: id,
    name: `hook ${id}`,
    url: `https://example.com/${id}`,
    events: [{ entity: "MODEL_VERSION", action: "CREATED" }],
    status: "ACTIVE",
    creation_timestamp: 1,
    last_updated_timestamp: 1,
    ...over,
  });
  let n = 0;
  const delivery = (webhookId: string, orderKey: string): NewDelivery => ({ delivery_id: `d${++n}`, webhook_id: webhookId, order_key: orderKey, payload: `{"n":${n}}` });
  const enqueue = (rows: NewDelivery[], now: number) => ctx.db.transaction((tx) => store.enqueue(tx, rows, now));
  const heads = async () => (await store.queueHeads()).map((d) => d.delivery_id);
  const stored = (id: string) => ctx.db.get<DeliveryRow & { last_error: string | null }>("SELECT * FROM webhook_deliveries WHERE delivery_id = ?", [id]);

  it("creates webhooks and reads them back with their secret; unknown ids are not found", async () => {
    const w = hook("a", { description: "d", secret: "s3cret", events: [{ entity: "REGISTERED_MODEL", action: "CREATED" }, { entity: "MODEL_VERSION_TAG", action: "SET" }] });
    await store.create(w);
    expect(await store.get("a")).toEqual(w);
    await store.create(hook("b"));
    expect(await store.get("b")).toEqual({ ...hook("b"), description: undefined, secret: undefined });
    await expectMlflowError(store.get("nope"), "RESOURCE_DOES_NOT_EXIST", "Webhook with ID nope not found.");
  });

  it("lists newest first in pages, and only active ones for delivery", async () => {
    for (const [id, t, status] of [["a", 1, "ACTIVE"], ["b", 3, "DISABLED"], ["c", 2, "ACTIVE"]] as const) {
      await store.create(hook(id, { creation_timestamp: t, status }));
    }
    const ids = async (limit: number, offset: number) => (await store.list(limit, offset)).map((w) => w.webhook_id);
    expect([...(await ids(2, 0)), ...(await ids(2, 2))]).toEqual(["b", "c", "a"]);
    expect((await store.active()).map((w) => w.webhook_id).sort()).toEqual(["a", "c"]);
  });

  it("updates every field but the creation time", async () => {
    await store.create(hook("a", { secret: "old" }));
    const next: WebhookWithSecret = {
      ...hook("a"),
      name: "renamed",
      description: "now described",
      url: "https://example.org/x",
      events: [{ entity: "MODEL_VERSION_ALIAS", action: "DELETED" }],
      status: "DISABLED",
      secret: undefined,
      last_updated_timestamp: 9,
    };
    await store.update(next);
    expect(await store.get("a")).toEqual({ ...next, creation_timestamp: 1 });
    expect(await store.active()).toEqual([]);
  });

  it("deletes a webhook with its deliveries", async () => {
    await store.create(hook("a"));
    await store.create(hook("b"));
    await enqueue([delivery("a", "m"), delivery("a", "m"), delivery("b", "m")], 10);
    await store.delete("a");
    await expectMlflowError(store.get("a"), "RESOURCE_DOES_NOT_EXIST");
    const left = await ctx.db.all<{ webhook_id: string }>("SELECT webhook_id FROM webhook_deliveries");
    expect(left.map((r) => r.webhook_id)).toEqual(["b"]);
    await expectMlflowError(store.delete("a"), "RESOURCE_DOES_NOT_EXIST", "Webhook with ID a not found.");
  });

  it("sends each (webhook, model) queue in order: only its oldest pending delivery is a head", async () => {
    await store.create(hook("a"));
    await store.create(hook("b"));
    await enqueue([delivery("a", "m1"), delivery("b", "m1")], 10); // d1, d2
    await enqueue([delivery("a", "m1"), delivery("a", "m2")], 20); // d3, d4
    const first = await store.queueHeads();
    expect(first.map((d) => d.delivery_id)).toEqual(["d1", "d2", "d4"]);
    expect(first[0]).toMatchObject({ webhook_id: "a", order_key: "m1", payload: '{"n":1}', state: "pending", attempts: 0 });
    expect(Number(first[0]!.next_attempt_at)).toBe(10);
    expect(Number(first[2]!.next_attempt_at)).toBe(20);
    expect(first.map((d) => Number(d.delivery_seq))).toEqual([...first.map((d) => Number(d.delivery_seq))].sort((x, y) => x - y));

    // A retried head stays the head: later events for that model wait behind it.
    const d1 = first[0]!;
    expect(await store.claim(d1.delivery_seq, "me", 10, 100)).toBe(true);
    expect(await store.retryDelivery(d1.delivery_seq, "me", 1, 1000, "HTTP 503")).toBe(true);
    expect(await heads()).toEqual(["d1", "d2", "d4"]);
    expect(await stored("d1")).toMatchObject({ state: "pending", attempts: 1, last_error: "HTTP 503" });
    expect(Number((await stored("d1"))!.next_attempt_at)).toBe(1000);

    // Delivered or given up, it leaves the queue and the next one moves up.
    expect(await store.claim(d1.delivery_seq, "me", 999, 100)).toBe(false); // not due yet
    expect(await store.claim(d1.delivery_seq, "me", 1000, 100)).toBe(true);
    expect(await store.finishDelivery(d1.delivery_seq, "me", "delivered", 2, null)).toBe(true);
    expect(await heads()).toEqual(["d2", "d3", "d4"]);
    expect(await stored("d1")).toMatchObject({ state: "delivered", attempts: 2, last_error: null });
    const d3 = (await store.queueHeads()).find((d) => d.delivery_id === "d3")!;
    expect(await store.claim(d3.delivery_seq, "me", 20, 100)).toBe(true);
    expect(await store.finishDelivery(d3.delivery_seq, "me", "failed", 6, "timed out")).toBe(true);
    expect(await stored("d3")).toMatchObject({ state: "failed", attempts: 6, last_error: "timed out" });
    expect(await heads()).toEqual(["d2", "d4"]);
  });

  it("enqueues a batch atomically: a repeated delivery id writes none of it", async () => {
    await store.create(hook("a"));
    await enqueue([{ delivery_id: "same", webhook_id: "a", order_key: "m", payload: "{}" }], 1);
    await expect(
      enqueue(
        [
          { delivery_id: "fresh", webhook_id: "a", order_key: "m", payload: "{}" },
          { delivery_id: "same", webhook_id: "a", order_key: "m", payload: "{}" },
        ],
        2,
      ),
    ).rejects.toThrow();
    expect(await stored("fresh")).toBeUndefined();
    await enqueue([], 3);
    expect(await heads()).toEqual(["same"]);
  });

  it("leases a delivery to one replica at a time; an expired lease is taken over, and only the holder records the outcome", async () => {
    await store.create(hook("a"));
    await enqueue([delivery("a", "m")], 10);
    const [d] = await store.queueHeads();
    const seq = d!.delivery_seq;
    const claims = await Promise.all(["r1", "r2", "r3"].map((owner) => store.claim(seq, owner, 10, 100)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    const holder = ["r1", "r2", "r3"][claims.indexOf(true)]!;
    expect(await stored("d1")).toMatchObject({ lease_owner: holder });
    expect(Number((await stored("d1"))!.lease_expires_at)).toBe(110);
    // Still the head while leased: later events for the model wait.
    expect(await heads()).toEqual(["d1"]);
    expect(await store.claim(seq, "other", 110, 100)).toBe(false);
    // The holder died: after its lease ran out another replica takes over, and the old holder's late answer is ignored.
    expect(await store.claim(seq, "other", 111, 100)).toBe(true);
    expect(await store.finishDelivery(seq, holder, "delivered", 1, null)).toBe(false);
    expect(await store.retryDelivery(seq, holder, 1, 500, "late")).toBe(false);
    expect(await store.finishDelivery(seq, "other", "delivered", 1, null)).toBe(true);
    expect(await stored("d1")).toMatchObject({ state: "delivered", lease_owner: null, lease_expires_at: null });
    expect(await store.claim(seq, "third", 1000, 100)).toBe(false);
  });
});
