import type { Migration } from "../migrations.js";

/**
 * Webhook deliveries with several server replicas on one database: a replica
 * leases the head of a queue (owner and expiry) before it sends, so each event
 * is sent by one replica; a lease whose replica died expires and is taken over.
 */
export const webhookLeases: Migration = {
  version: 10,
  name: "webhook-leases",
  sql: `
ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN lease_expires_at BIGINT;
`,
};
