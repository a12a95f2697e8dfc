// Usage: node compare.mjs <Go app cdk.out> <TypeScript app cdk.out> [tolerance]
//
// Prints, per stack, the number of resources of each type in the two synth outputs as a
// Markdown table, so a reader of the benchmark can see the two apps build the same thing.
// Exits 1 when a stack is missing from either side or its resource counts differ by more
// than tolerance (default 3) in total: then the timings compare different apps.
import * as fs from 'node:fs';
import * as path from 'node:path';

const [goOut, tsOut, tol = '3'] = process.argv.slice(2);
if (!goOut || !tsOut) {
  console.error('usage: node compare.mjs <Go app cdk.out> <TypeScript app cdk.out> [tolerance]');
  process.exit(2);
}
const tolerance = Number(tol);

/** counts maps stack name -> resource type -> count. */
function counts(dir) {
  const out = new Map();
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.template.json')).sort()) {
    const byType = new Map();
    for (const r of Object.values(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).Resources ?? {})) {
      byType.set(r.Type, (byType.get(r.Type) ?? 0) + 1);
    }
    out.set(f.replace(/\.template\.json$/, ''), byType);
  }
  return out;
}

const go = counts(goOut);
const ts = counts(tsOut);
const sum = (m) => [...(m?.values() ?? [])].reduce((a, b) => a + b, 0);
let failed = false;
const rows = ['| stack | resource type | Go | TypeScript |', '|---|---|---|---|'];
for (const stack of [...new Set([...go.keys(), ...ts.keys()])].sort()) {
  const g = go.get(stack);
  const t = ts.get(stack);
  const types = [...new Set([...(g?.keys() ?? []), ...(t?.keys() ?? [])])].sort();
  for (const type of types) {
    const a = g?.get(type) ?? 0;
    const b = t?.get(type) ?? 0;
    if (a !== b) rows.push(`| ${stack} | ${type} | ${a} | ${b} |`);
  }
  const diff = Math.abs(sum(g) - sum(t));
  const bad = !g || !t || diff > tolerance;
  failed ||= bad;
  rows.push(`| **${stack}** | all (${types.length} types)${bad ? ' **differs**' : ''} | **${sum(g)}** | **${sum(t)}** |`);
}
console.log(rows.join('\n'));
console.log(`\nRows list only the types whose counts differ, then each stack's total; tolerance ${tolerance} resources per stack.`);
if (failed) {
  console.error(`compare: the two apps differ by more than ${tolerance} resources in a stack (or a stack is missing)`);
  process.exit(1);
}
