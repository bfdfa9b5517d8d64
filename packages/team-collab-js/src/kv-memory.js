// keel:infrastructure/kv in this process's memory: for one Node process,
// tests and development. Counters are decimal text, as in the Spin adapter,
// so `increment` on another value is `invalid-input`. Expired entries are
// dropped when touched. Every call answers synchronously (see sql-sqlite.js).

function failure(tag, val) {
  return Object.assign(new Error(val), { payload: { tag, val } });
}

const MAX = 2n ** 63n - 1n;
const MIN = -(2n ** 63n);

/** A `keel:infrastructure/kv` implementation on a `Map`. */
export function memoryKv({ now = () => Date.now() } = {}) {
  /** @type {Map<string, { value: Uint8Array, expiresAt: number | null }>} */
  const entries = new Map();
  const live = (key) => {
    if (key === '') throw failure('invalid-input', 'empty key');
    const entry = entries.get(key);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const ttl = (seconds) => {
    if (!(seconds >= 1)) throw failure('invalid-input', 'ttl-seconds must be at least 1');
    return now() + seconds * 1000;
  };
  const add = (key, delta, expiresAt) => {
    const entry = live(key);
    let current = 0n;
    if (entry) {
      const text = new TextDecoder().decode(entry.value);
      if (!/^-?\d+$/.test(text)) throw failure('invalid-input', `the value at \`${key}\` is not a counter`);
      current = BigInt(text);
    }
    const next = current + delta;
    if (next > MAX || next < MIN) throw failure('invalid-input', `the counter at \`${key}\` would overflow`);
    entries.set(key, { value: new TextEncoder().encode(String(next)), expiresAt: entry ? entry.expiresAt : expiresAt });
    return next;
  };
  return {
    get(key) { return live(key)?.value; },
    set(key, value) { live(key); entries.set(key, { value: Uint8Array.from(value), expiresAt: null }); },
    setWithTtl(key, value, seconds) {
      live(key);
      entries.set(key, { value: Uint8Array.from(value), expiresAt: ttl(seconds) });
    },
    delete(key) { live(key); entries.delete(key); },
    exists(key) { return live(key) !== undefined; },
    listKeys(prefix) {
      return [...entries.keys()].filter((key) => key.startsWith(prefix) && live(key)).sort();
    },
    increment(key, delta) { return add(key, delta, null); },
    incrementWithTtl(key, delta, seconds) { return add(key, delta, ttl(seconds)); },
  };
}
