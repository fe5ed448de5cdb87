// The rule-based check before the LLM: reads GPU temperatures given as `name=celsius,...` and
// writes the gate's verdict to BATCH_PATH/outputs/triage.json (whole: temporary name, rename).
// Every reading under the limit: {"proceed": false} and the LLM is never asked. A reading over
// it, or one that cannot be read: {"proceed": true}, naming it, so the LLM explains it.
// Usage: node scripts/triage.mjs --max-temp C -- READINGS BATCH_PATH
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const args = process.argv.slice(2);
const sep = args.indexOf('--');
const flag = args.indexOf('--max-temp');
const maxTemp = flag >= 0 && flag < sep ? Number(args[flag + 1]) : NaN;
const [readings, batchPath] = sep >= 0 ? args.slice(sep + 1) : [];
if (!Number.isFinite(maxTemp) || readings === undefined || batchPath === undefined) {
  console.error('usage: node scripts/triage.mjs --max-temp C -- READINGS BATCH_PATH   (READINGS: name=celsius,...)');
  process.exit(2);
}

const findings = [];
let count = 0;
for (const part of readings.split(',').map((s) => s.trim()).filter(Boolean)) {
  count += 1;
  const m = /^([A-Za-z0-9_-]+)=(-?\d+(?:\.\d+)?)$/.exec(part);
  if (!m) findings.push(`'${part}' is not name=celsius`);
  else if (Number(m[2]) >= maxTemp) findings.push(`${m[1]} at ${m[2]} °C is at or over ${maxTemp} °C`);
}
const verdict = count === 0
  ? { proceed: false, reason: 'no readings given: nothing to explain' }
  : findings.length === 0
    ? { proceed: false, reason: `all ${count} readings under ${maxTemp} °C: nothing to explain` }
    : { proceed: true, reason: findings.join('; ') };

const outputs = join(batchPath, 'outputs');
await mkdir(outputs, { recursive: true });
const file = join(outputs, 'triage.json');
const tmp = `${file}.${process.pid}.tmp`;
await writeFile(tmp, JSON.stringify(verdict) + '\n');
await rename(tmp, file);
console.log(JSON.stringify(verdict));
