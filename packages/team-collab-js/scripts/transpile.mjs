// Transpile dist/layers/team-collab-js.wasm (scripts/build-components.sh
// composes it) into generated/ with jco, then work around two jco 1.35
// defects.
//
// jco's async runtime checks for deadlocks on a zero-delay timer; in a
// composition of many component instances the check can run between a
// task's wake-up and its resumption and reject a call that was about to
// continue (`wasm trap: deadlock detected`), although the same calls finish
// when it is left out. Until jco fixes it, the check is switched off: a true
// deadlock then waits instead of trapping. The patch must apply exactly
// once, so a jco upgrade that changes the code stops the build here.
//
// jco declares an imported function whose WIT name is a JavaScript keyword
// (`keel:infrastructure/kv`'s `delete`) as `function _delete(…)` plus
// `export { _delete as delete }` in the interface's .d.ts; a top-level
// function in a .d.ts needs `declare` (TypeScript's TS1046), so every
// TypeScript caller would fail to compile. `declare` is added.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const component = here('../../dist/layers/team-collab-js.wasm');
rmSync(here('generated'), { recursive: true, force: true });
execFileSync(process.execPath, [
  here('node_modules/@bytecodealliance/jco/dist/jco.js'), 'transpile', component,
  '--name', 'team-collab-js', '-o', here('generated'),
  '--instantiation', 'async', '--async-mode', 'jspi', '--quiet',
], { stdio: 'inherit' });

const output = here('generated/team-collab-js.js');
const source = readFileSync(output, 'utf8');
const check = 'function _checkForDeadlock() {';
const found = source.split(check).length - 1;
if (found !== 1) {
  console.error(`${output}: expected one \`${check}\` to patch, found ${found}: review the jco workaround in scripts/transpile.mjs`);
  process.exit(1);
}
writeFileSync(output, source.replace(check, `${check}\n  return; // keel: see scripts/transpile.mjs`));

const interfaces = here('generated/interfaces');
for (const file of readdirSync(interfaces).filter((name) => name.endsWith('.d.ts'))) {
  const path = `${interfaces}/${file}`;
  const types = readFileSync(path, 'utf8');
  const fixed = types.replace(/^function (_\w+)\(/gm, 'declare function $1(');
  if (fixed !== types) writeFileSync(path, fixed);
}
