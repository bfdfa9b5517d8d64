// The package's SQL and key-value implementations hold the contracts of
// keel:infrastructure/sql and kv (wit/infrastructure), as the Spin adapters do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sqliteSql, memoryKv } from '../src/index.js';

const text = (val) => ({ tag: 'text', val });
const int = (val) => ({ tag: 'integer', val: BigInt(val) });

// The implementations answer synchronously (see src/sql-sqlite.js): refusals throw at once.
function thrown(fn) {
  try { fn(); } catch (err) { return err.payload; }
  assert.fail('expected a refusal');
}

test('sql: typed values round-trip, `?N` placeholders bind, row ids only for inserts', async () => {
  const sql = sqliteSql();
  await sql.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL, data BLOB, note TEXT)', []);
  const inserted = await sql.execute('INSERT INTO t (name, score, data, note) VALUES (?1, ?2, ?3, ?4)',
    [text('a'), { tag: 'real', val: 1 }, { tag: 'blob', val: new Uint8Array([0, 255]) }, { tag: 'null' }]);
  assert.deepEqual(inserted, { rowsAffected: 1n, lastInsertId: 1n });
  const updated = await sql.execute('UPDATE t SET score = ?1 WHERE name = ?2', [{ tag: 'real', val: 2.5 }, text('a')]);
  assert.deepEqual(updated, { rowsAffected: 1n, lastInsertId: undefined });
  const result = await sql.query('SELECT id, name, score, data, note FROM t WHERE id = ?1', [int(1)]);
  assert.deepEqual(result.columns, ['id', 'name', 'score', 'data', 'note']);
  assert.deepEqual(result.rows[0].values, [int(1), text('a'), { tag: 'real', val: 2.5 },
    { tag: 'blob', val: new Uint8Array([0, 255]) }, { tag: 'null' }]);
  // A REAL that happens to be whole stays real.
  await sql.execute('UPDATE t SET score = 3.0', []);
  assert.deepEqual((await sql.query('SELECT score FROM t', [])).rows[0].values, [{ tag: 'real', val: 3 }]);
});

test('sql: engine errors arrive as the interface variants and change nothing', async () => {
  const sql = sqliteSql();
  await sql.execute('CREATE TABLE t (name TEXT UNIQUE)', []);
  await sql.execute('INSERT INTO t (name) VALUES (?1)', [text('a')]);
  assert.equal(thrown(() => sql.execute('INSERT INTO t (name) VALUES (?1)', [text('a')])).tag, 'conflict');
  assert.equal(thrown(() => sql.query('SELEC nonsense', [])).tag, 'invalid-query');
  assert.equal(thrown(() => sql.query('SELECT * FROM missing', [])).tag, 'invalid-query');
  assert.deepEqual((await sql.query('SELECT name FROM t', [])).rows.map((r) => r.values[0].val), ['a']);
});

test('sql: a transaction commits atomically, rolls back, and is closed afterwards', async () => {
  const sql = sqliteSql();
  await sql.execute('CREATE TABLE t (n INTEGER)', []);
  const tx = await sql.begin();
  await tx.execute('INSERT INTO t (n) VALUES (1)', []);
  // Other statements wait for the transaction to end.
  const outside = Promise.resolve(sql.query('SELECT count(*) AS c FROM t', []));
  await tx.commit();
  assert.deepEqual((await outside).rows[0].values, [int(1)]);
  assert.equal(thrown(() => tx.execute('INSERT INTO t (n) VALUES (2)', [])).tag, 'transaction-closed');
  // As a guest does (jco calls dispose when the handle is dropped).
  tx[Symbol.dispose]();

  const undone = await sql.begin();
  await undone.execute('INSERT INTO t (n) VALUES (3)', []);
  await undone.rollback();
  undone[Symbol.dispose]();
  const dropped = await sql.begin();
  await dropped.execute('INSERT INTO t (n) VALUES (4)', []);
  dropped[Symbol.dispose](); // what jco does when the guest drops it without commit
  assert.deepEqual((await sql.query('SELECT n FROM t', [])).rows.map((r) => r.values[0]), [int(1)]);

  // A committed transaction dropped late (its guest resumed after the next
  // one began) leaves the open one alone.
  const first = await sql.begin();
  await first.execute('INSERT INTO t (n) VALUES (5)', []);
  const second = Promise.resolve(sql.begin());
  await first.commit();
  const open = await second;
  first[Symbol.dispose]();
  await open.execute('INSERT INTO t (n) VALUES (6)', []);
  await open.commit();
  open[Symbol.dispose]();
  assert.deepEqual((await sql.query('SELECT n FROM t ORDER BY n', [])).rows.map((r) => r.values[0]), [int(1), int(5), int(6)]);
});

test('kv: values, expiry, listing and counters', async () => {
  let clock = 1_000_000;
  const kv = memoryKv({ now: () => clock });
  await kv.set('a', new Uint8Array([1]));
  await kv.setWithTtl('b', new Uint8Array([2]), 2);
  assert.deepEqual(await kv.listKeys(''), ['a', 'b']);
  clock += 2_000;
  assert.equal(await kv.get('b'), undefined, 'expired');
  assert.equal(await kv.exists('b'), false);
  assert.deepEqual(await kv.listKeys(''), ['a']);

  assert.equal(await kv.incrementWithTtl('hits', 1n, 60), 1n);
  clock += 30_000;
  assert.equal(await kv.incrementWithTtl('hits', 1n, 60), 2n, 'an existing counter keeps its expiry');
  clock += 30_000;
  assert.equal(await kv.incrementWithTtl('hits', 1n, 60), 1n, 'a new window');
  assert.equal(await kv.increment('n', -5n), -5n);
  assert.equal(thrown(() => kv.increment('a', 1n)).tag, 'invalid-input', 'not a counter');
  assert.equal(thrown(() => kv.increment('max', 2n ** 63n)).tag, 'invalid-input');
  assert.deepEqual(await kv.get('a'), new Uint8Array([1]), 'a refused increment leaves the value');
  assert.equal(thrown(() => kv.setWithTtl('c', new Uint8Array(), 0)).tag, 'invalid-input');
  assert.equal(thrown(() => kv.get('')).tag, 'invalid-input');
  await kv.delete('a');
  await kv.delete('a');
  assert.equal(await kv.exists('a'), false);
});
