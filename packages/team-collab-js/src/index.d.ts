// Types of @keel/team-collab. The component's own interfaces are generated
// by jco from its WIT (generated/*.d.ts).
import type { Root } from '../generated/team-collab-js.js';
import type * as Sql from '../generated/interfaces/keel-infrastructure-sql.js';
import type * as Kv from '../generated/interfaces/keel-infrastructure-kv.js';
import type * as Webhooks from '../generated/interfaces/keel-platform-outbound-webhooks.js';

/** team-collab's exports: user lifecycle, workspaces, messaging, rate limiting, audit and the mail outbox. */
export type TeamCollab = Root;

/** A `keel:infrastructure/sql` implementation; errors are thrown as `{ payload: Sql.Error }`. */
export type SqlImplementation = Omit<typeof Sql, 'Transaction'> & { Transaction: abstract new () => unknown };

/** A `keel:infrastructure/kv` implementation; errors are thrown as `{ payload: Kv.Error }`. */
export type KvImplementation = {
  [name in keyof typeof Kv]: (...args: Parameters<(typeof Kv)[name]>) =>
    ReturnType<(typeof Kv)[name]> | Awaited<ReturnType<(typeof Kv)[name]>>;
};

export interface TeamCollabOptions {
  sql: SqlImplementation;
  kv: Partial<KvImplementation> & Pick<KvImplementation, 'incrementWithTtl'>;
  /** Spin variables; `token_secret` (at least 32 characters) is required. */
  variables: { token_secret: string } & Record<string, string>;
  /** A `keel:platform/outbound-webhooks` implementation (default: `fetchWebhooks()`, which reaches no origin). */
  webhooks?: WebhooksImplementation;
  /** How to load the component's core modules (default: from this package's files). */
  getCoreModule?: (path: string) => Promise<WebAssembly.Module>;
}

/** A `keel:platform/outbound-webhooks` implementation; errors are thrown as `{ payload: Webhooks.Error }`. */
export type WebhooksImplementation = {
  deliver(message: Webhooks.WebhookMessage): Promise<number>;
};

export function createTeamCollab(options: TeamCollabOptions): Promise<TeamCollab>;

/**
 * Signed webhooks (Standard Webhooks) over `fetch`, reaching only `allowedOrigins`
 * (deny by default, like Spin's `allowed_outbound_hosts`).
 */
export function fetchWebhooks(options?: {
  allowedOrigins?: string[];
  timeoutMs?: number;
  fetch?: typeof fetch;
}): WebhooksImplementation;

/** SQLite through `node:sqlite`: a file path, or `:memory:` (the default). */
export function sqliteSql(location?: string): SqlImplementation & { close(): void };

/** Key-value in this process's memory. */
export function memoryKv(options?: { now?: () => number }): KvImplementation;
