// npm run plan-stress [-- --case NAME] [--in-process]: generates large and hostile plans and
// reports what reading, parsing and validating each costs, the way the brain and `submit` do it
// (checkPlanBounded: a worker thread within the parse budget), or with --in-process in the
// calling thread: wall time and the peak RSS of a fresh process per case (so one case's memory
// does not hide another's; a worker thread's memory counts in its process), the problems found
// and the bytes of messages printed. Run after `npm run build`: the worker then starts from its
// bundle, as in the rig. A benchmark, kept apart from the tests: it asserts nothing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { checkPlanBounded } from '../agents/plan/boundedCheck.ts';
import { loadPlan } from '../agents/plan/load.ts';
import { capProblems } from '../agents/plan/suggest.ts';
import { sortProblems, validatePlan } from '../agents/plan/validate.ts';

const HEAD = '# Stress\n\n## Goal\nMeasure the parser.\n\n## Tasks\n\n';
const task = (name: string, deps: string | null) =>
  `### ${name}\n- **task_class**: cpu\n- **command**: \`node scripts/run.mjs {BATCH_PATH} ${name}\`\n${deps ? `- **depends_on**: ${deps}\n` : ''}\n`;
const tasks = (n: number, deps: (i: number) => string | null) => HEAD + Array.from({ length: n }, (_, i) => task(`t${i}`, deps(i))).join('');

/** Each case's plan.md. */
const CASES: Record<string, () => string> = {
  'independent-10000': () => tasks(10_000, () => null),
  'chain-5000': () => tasks(5_000, (i) => (i ? `t${i - 1}` : null)),
  'chain-1000-in-10000': () => tasks(10_000, (i) => (i % 1000 ? `t${i - 1}` : null)),
  'missing-deps-3000': () => tasks(3_000, (i) => `missing${i}`),
  'missing-deps-10000': () => tasks(10_000, (i) => `missing${i}`),
  'tasks-10001': () => tasks(10_001, () => null),
  'nested-quotes-50KB': () => `${HEAD}${task('a', null)}${'>'.repeat(50_000)} x\n`,
  'headings-2MiB': () => HEAD + '#\n'.repeat(1_000_000),
  // Within every limit, but remark's emphasis matching is quadratic in one paragraph's
  // delimiters: only the parse time limit stops it (in the calling thread it runs for minutes).
  'emphasis-100KB': () => `${HEAD}${task('a', null)}${'*a'.repeat(50_000)}\n`,
};
/** Cases that only the worker's time limit ends: left out of --in-process runs. */
const BOUNDED_ONLY = new Set(['emphasis-100KB']);

interface Figures {
  case: string;
  bytes: number;
  ms: number;
  peakRssMb: number;
  tasks: number;
  problems: number;
  messageBytes: number;
  first: string;
}

async function runCase(name: string, inProcess: boolean): Promise<Figures> {
  const make = CASES[name];
  if (!make) throw new Error(`unknown case '${name}'; cases: ${Object.keys(CASES).join(', ')}`);
  const dir = await mkdtemp(join(tmpdir(), 'forge-plan-stress-'));
  try {
    const text = make();
    await writeFile(join(dir, 'plan.md'), text);
    const t0 = performance.now();
    let plan;
    let problems: string[];
    if (!inProcess) {
      ({ plan, problems } = await checkPlanBounded(dir, {}));
    } else {
      const loaded = await loadPlan(dir);
      plan = loaded.plan;
      problems = sortProblems([...loaded.problems, ...(plan ? validatePlan(plan, {}) : [])]);
    }
    const ms = performance.now() - t0;
    const printed = capProblems(problems);
    return {
      case: name,
      bytes: Buffer.byteLength(text),
      ms: Math.round(ms),
      peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      tasks: plan?.tasks.length ?? 0,
      problems: problems.length,
      messageBytes: Buffer.byteLength(printed.join('\n')),
      first: (printed[0] ?? '').replace(dir, '<dir>').slice(0, 140),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { case: { type: 'string' }, child: { type: 'boolean' }, 'in-process': { type: 'boolean' } } });
const inProcess = values['in-process'] === true;
if (values.child) {
  process.stdout.write(JSON.stringify(await runCase(values.case!, inProcess)) + '\n');
} else {
  process.stdout.write(inProcess ? 'in the calling thread\n' : 'in a worker thread within the parse budget, as the brain and submit do\n');
  const names = values.case ? [values.case] : Object.keys(CASES).filter((n) => !(inProcess && BOUNDED_ONLY.has(n)));
  process.stdout.write(`${'case'.padEnd(26)} ${'KB'.padStart(6)} ${'ms'.padStart(7)} ${'peak MB'.padStart(8)} ${'tasks'.padStart(6)} ${'problems'.padStart(8)} ${'msg B'.padStart(7)}  first problem\n`);
  for (const name of names) {
    // A fresh process per case: peak RSS is that case's alone.
    const args = ['--import', 'tsx', import.meta.filename, '--child', '--case', name, ...(inProcess ? ['--in-process'] : [])];
    const r = await execa(process.execPath, args, { reject: false });
    if (r.exitCode !== 0) {
      process.stdout.write(`${name.padEnd(26)} failed: ${String(r.stderr).split('\n')[0]}\n`);
      continue;
    }
    const f = JSON.parse(String(r.stdout).trim().split('\n').at(-1)!) as Figures;
    process.stdout.write(
      `${f.case.padEnd(26)} ${String(Math.round(f.bytes / 1024)).padStart(6)} ${String(f.ms).padStart(7)} ${String(f.peakRssMb).padStart(8)} ${String(f.tasks).padStart(6)} ${String(f.problems).padStart(8)} ${String(f.messageBytes).padStart(7)}  ${f.first}\n`,
    );
  }
}
