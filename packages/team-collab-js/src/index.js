// team-collab's business layers (platform, repositories, domains) as a
// JavaScript module: the composed component (dist/layers/team-collab-js.wasm,
// built by scripts/build-components.sh) transpiled by jco into
// `generated/`, instantiated on the SQL and key-value implementations the
// caller gives. Async component functions need JSPI (Node ≥ 24).
import { readFile } from 'node:fs/promises';
import * as shim from '@bytecodealliance/preview2-shim';
import { instantiate } from '../generated/team-collab-js.js';
import { fetchWebhooks } from './webhooks-fetch.js';

export { sqliteSql } from './sql-sqlite.js';
export { memoryKv } from './kv-memory.js';
export { fetchWebhooks } from './webhooks-fetch.js';

/** The Spin variables the component reads, with Spin's naming rule. */
const VARIABLE_NAME = /^[a-z][a-z0-9_]*$/;

function variablesImport(variables) {
  return {
    get(name) {
      if (!VARIABLE_NAME.test(name)) {
        throw Object.assign(new Error(name), { payload: { tag: 'invalid-name', val: name } });
      }
      const value = variables[name];
      if (value === undefined) {
        throw Object.assign(new Error(name), { payload: { tag: 'undefined', val: name } });
      }
      return String(value);
    },
  };
}

// jco asks for `wasi:clocks/monotonic-clock` once for both versions the
// component imports: 0.2's (preview2-shim) and 0.3's async `wait-for`.
const monotonicClock = {
  ...shim.clocks.monotonicClock,
  waitFor: (nanoseconds) => new Promise((resolve) => setTimeout(resolve, Number(nanoseconds / 1_000_000n))),
  waitUntil: (instant) => new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, Number((instant - shim.clocks.monotonicClock.now()) / 1_000_000n)))),
};

/** `wasi:<package>/<interface>` → preview2-shim's implementation. */
function wasiImport(name) {
  const [, pkg, iface] = /^wasi:([a-z-]+)\/([a-z-]+)$/.exec(name) ?? [];
  const camel = iface?.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  // `types` interfaces hold only types: nothing to provide.
  return shim[pkg]?.[camel] ?? (iface === 'types' ? {} : undefined);
}

const loadFromDisk = async (path) =>
  WebAssembly.compile(await readFile(new URL(`../generated/${path}`, import.meta.url)));

/**
 * Instantiate team-collab on the given infrastructure.
 * @param {object} options
 * @param {object} options.sql a `keel:infrastructure/sql` implementation (e.g. `sqliteSql(path)`)
 * @param {object} options.kv a `keel:infrastructure/kv` implementation (e.g. `memoryKv()`)
 * @param {Record<string, string>} options.variables Spin variables: `token_secret` (≥ 32 bytes) is required
 * @param {object} [options.webhooks] a `keel:platform/outbound-webhooks` implementation (default:
 *   `fetchWebhooks()`, which may reach no origin until given `allowedOrigins`)
 * @param {(path: string) => Promise<WebAssembly.Module>} [options.getCoreModule] how to load the core modules
 *   (default: from this package's files)
 */
export async function createTeamCollab({ sql, kv, variables, webhooks = fetchWebhooks(), getCoreModule = loadFromDisk }) {
  if (!sql || !kv) throw new TypeError('createTeamCollab: `sql` and `kv` implementations are required');
  if (typeof variables?.token_secret !== 'string' || variables.token_secret.length < 32) {
    throw new TypeError('createTeamCollab: `variables.token_secret` must be a string of at least 32 characters');
  }
  // jco asks for each import by interface name, with or without version.
  const imports = new Proxy({}, {
    get(_, key) {
      const name = typeof key === 'string' ? key.replace(/@.*$/, '') : '';
      if (name === 'keel:infrastructure/sql') return sql;
      if (name === 'keel:infrastructure/kv') return kv;
      if (name === 'keel:platform/outbound-webhooks') return webhooks;
      if (name === 'spin:variables/variables') return variablesImport(variables);
      if (name === 'wasi:clocks/monotonic-clock') return monotonicClock;
      if (name.startsWith('wasi:')) return wasiImport(name);
      return undefined;
    },
  });
  return oneAtATime(await instantiate(getCoreModule, imports));
}

/**
 * The exports with their calls queued: under jco 1.35 a call that enters
 * the component while another is suspended in it traps, so each call starts
 * when the one before has settled (in order; a refusal does not stop the
 * queue).
 */
function oneAtATime(exports) {
  let last = Promise.resolve();
  const queued = (fn) => (...args) => {
    const call = last.then(() => fn(...args));
    last = call.catch(() => {});
    return call;
  };
  const wrapped = {};
  for (const [name, value] of Object.entries(exports)) {
    wrapped[name] = Object.fromEntries(
      Object.entries(value).map(([key, member]) => [key, typeof member === 'function' ? queued(member) : member]));
  }
  return wrapped;
}
