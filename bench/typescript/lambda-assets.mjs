// Usage: node lambda-assets.mjs <Go app cdk.out> <dest>
//
// Links the six function binaries of the Go app's synth into <dest>/<function>/bootstrap
// (the layout of constructs/workflow.CodeFromDirectory), so the TypeScript app stages and
// fingerprints the very same bytes. Functions are found by their construct path in the
// workflow template's metadata.
import * as fs from 'node:fs';
import * as path from 'node:path';

const [goOut, dest] = process.argv.slice(2);
if (!goOut || !dest) {
  console.error('usage: node lambda-assets.mjs <Go app cdk.out> <dest>');
  process.exit(2);
}
const template = fs.readdirSync(goOut).find((f) => f.endsWith('-Workflow.template.json'));
if (!template) {
  console.error(`lambda-assets: no *-Workflow.template.json in ${goOut}: synthesize the Go app first`);
  process.exit(1);
}
const resources = JSON.parse(fs.readFileSync(path.join(goOut, template), 'utf8')).Resources;
const found = [];
for (const r of Object.values(resources)) {
  const m = r.Metadata ?? {};
  const fn = /\/Plagiarism\/([A-Za-z]+)\/Resource$/.exec(m['aws:cdk:path'] ?? '');
  if (r.Type !== 'AWS::Lambda::Function' || !fn || !m['aws:asset:path']) continue;
  const src = path.join(goOut, m['aws:asset:path'], 'bootstrap');
  const dir = path.join(dest, fn[1].toLowerCase());
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  try {
    fs.linkSync(src, path.join(dir, 'bootstrap'));
  } catch {
    fs.copyFileSync(src, path.join(dir, 'bootstrap'));
  }
  found.push(fn[1]);
}
if (found.length !== 6) {
  console.error(`lambda-assets: found ${found.length} functions (${found.join(', ')}) in ${template}, want 6`);
  process.exit(1);
}
