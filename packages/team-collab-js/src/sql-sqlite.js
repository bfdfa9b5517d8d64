// keel:infrastructure/sql on SQLite through Node's built-in `node:sqlite`
// (one connection; WAL for files). The same contract the Spin adapter
// (adapters/sql-spin-sqlite) honours: `?N` placeholders, typed values,
// errors as the interface's variants, and transactions that own the
// connection until they commit or roll back (other statements wait).
import { DatabaseSync } from 'node:sqlite';

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_CONSTRAINT = 19;
const SQLITE_ERROR = 1;
// As the Spin adapter: a row id is reported for inserts only.
const INSERT = /^\s*(insert|replace)\b/i;

/** A WIT `error` variant, thrown the way jco expects a host error. */
function failure(tag, val) {
  return Object.assign(new Error(val ?? tag), { payload: val === undefined ? { tag } : { tag, val } });
}

function engineFailure(err) {
  const detail = String(err?.message ?? err);
  switch (err?.errcode & 0xff) {
    case SQLITE_CONSTRAINT: return failure('conflict', detail);
    case SQLITE_BUSY: case SQLITE_LOCKED: return failure('unavailable', detail);
    case SQLITE_ERROR: return failure('invalid-query', detail);
    default: return failure('internal', detail);
  }
}

function bind(value) {
  switch (value.tag) {
    case 'null': return null;
    case 'integer': case 'real': case 'text': return value.val;
    case 'blob': return value.val;
    default: throw failure('invalid-query', `unknown value kind \`${value.tag}\``);
  }
}

// With big integers on, SQLite's INTEGER arrives as bigint and REAL as number.
function lift(value) {
  if (value === null || value === undefined) return { tag: 'null' };
  if (typeof value === 'bigint') return { tag: 'integer', val: value };
  if (typeof value === 'number') return { tag: 'real', val: value };
  if (typeof value === 'string') return { tag: 'text', val: value };
  return { tag: 'blob', val: new Uint8Array(value) };
}

/**
 * A `keel:infrastructure/sql` implementation on a SQLite database.
 * @param {string} [location] a file path, or `:memory:` (the default)
 */
export function sqliteSql(location = ':memory:') {
  const db = new DatabaseSync(location);
  db.exec('PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  if (location !== ':memory:') db.exec('PRAGMA journal_mode = WAL;');

  // The connection's owner: a transaction, or nobody. Waiters queue in order.
  let owner = null;
  const waiting = [];
  const acquire = (who) => new Promise((resolve) => {
    if (owner === null) { owner = who; resolve(); } else waiting.push(() => { owner = who; resolve(); });
  });
  const release = () => { owner = null; waiting.shift()?.(); };

  function run(statement, params, rows) {
    try {
      const prepared = db.prepare(statement);
      prepared.setReadBigInts(true);
      const args = params.map(bind);
      if (rows) {
        const columns = prepared.columns().map((column) => column.name);
        prepared.setReturnArrays(true);
        return { columns, rows: prepared.all(...args).map((row) => ({ values: row.map(lift) })) };
      }
      const { changes, lastInsertRowid } = prepared.run(...args);
      const inserted = changes > 0 && INSERT.test(statement);
      return { rowsAffected: BigInt(changes), lastInsertId: inserted ? BigInt(lastInsertRowid) : undefined };
    } catch (err) {
      throw err?.payload ? err : engineFailure(err);
    }
  }

  // A statement outside a transaction runs at once when the connection is
  // free and waits for it otherwise. Answering synchronously matters under
  // jco: its async runtime mistakes the gap after a settled host promise
  // for a deadlock (jco 1.35), so every call that need not wait does not.
  function autocommit(statement, params, rows) {
    if (owner === null) return run(statement, params, rows);
    const me = {};
    return acquire(me).then(() => {
      try { return run(statement, params, rows); } finally { release(); }
    });
  }

  // The open transaction's state lives here, not on the `Transaction`
  // object: jco may hand a method a fresh object of the class for a handle
  // that another component instance of the composition lowered (the sql
  // import is shared by several). One transaction owns the connection at a
  // time, so the open one is the one any handle can mean.
  //
  // Nor does a drop say which transaction it drops. A guest drops each
  // transaction once, after its commit or rollback or instead of them; a
  // drop can arrive after the next transaction began (another call's). So
  // drops are counted: one owed by an ended transaction is settled first,
  // and only a drop that nothing owes rolls back the open transaction.
  let open = null;
  let owedDrops = 0;
  const live = () => {
    if (open === null) throw failure('transaction-closed');
  };
  const end = (sql) => {
    live();
    open = null;
    try { db.exec(sql); } catch (err) { throw engineFailure(err); } finally { release(); }
  };
  const finish = (sql) => {
    end(sql);
    owedDrops += 1;
  };
  const dropped = () => {
    if (owedDrops > 0) owedDrops -= 1;
    else if (open !== null) end('ROLLBACK');
  };

  class Transaction {
    query(statement, params) { live(); return run(statement, params, true); }
    execute(statement, params) { live(); return run(statement, params, false); }
    commit() { finish('COMMIT'); }
    rollback() { finish('ROLLBACK'); }
    // Dropped without commit: roll back (the interface's rule), however
    // jco reaches us (the object's dispose, or the class's by handle).
    [Symbol.dispose]() { dropped(); }
    static [Symbol.for('cabiDispose')]() { dropped(); }
  }

  return {
    Transaction,
    dialect: () => 'sqlite',
    query: (statement, params) => autocommit(statement, params, true),
    execute: (statement, params) => autocommit(statement, params, false),
    begin() {
      const tx = new Transaction();
      const start = () => {
        try { db.exec('BEGIN IMMEDIATE'); } catch (err) { release(); throw engineFailure(err); }
        open = tx;
        return tx;
      };
      if (owner === null) {
        owner = tx;
        return start();
      }
      return acquire(tx).then(start);
    },
    /** Close the database (after the last call). */
    close: () => db.close(),
  };
}
