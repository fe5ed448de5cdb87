// forge adapters [--json] | promote BASE ADAPTER VERSION | rollback BASE [--shared DIR]:
// the adapter versions on the mount and which is current per base model; a person's promotion
// or rollback, written through the same locked, whole-file update a plan's promote_adapter
// and rollback_adapter tasks use (agents/core/adapters.ts). Agents move to the new version
// between llm tasks.
import { parseCommand, runCommand, usageError, writeStdout } from '../agents/core/args.ts';
import { normalizeBase } from '../agents/core/adapterRef.ts';
import { type CurrentAdapters, type CurrentEntry, type ListedVersion, currentFile, entryOf, listVersions, promoteVersion, readCurrent, rollbackBase } from '../agents/core/adapters.ts';
import { DecisionLog } from '../agents/core/decisionLog.ts';
import { mountPaths } from '../agents/core/paths.ts';

const USAGE = `usage: forge adapters [--json] [--shared DIR]
       forge adapters promote BASE ADAPTER VERSION [--shared DIR]
       forge adapters rollback BASE [--shared DIR]
  (none)        list the base models, their adapters and versions, which is current, and scores
  promote       make VERSION of ADAPTER current for the base model BASE (e.g. qwen2.5:7b support v3);
                the version's folder must hold meta.json and its adapter file
  rollback      return BASE to the version current before (with none before: to no adapter)
  --json        print one JSON object: { current_file, current_problem, bases: [{ base, current,
                adapters: [{ name, versions: [{ version, current, created_at, score, batch, problem }] }] }] }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit
Agents running BASE move to the new version once their running llm tasks end.`;

interface BaseView {
  base: string;
  current: CurrentEntry | null;
  adapters: Array<{ name: string; versions: Array<Omit<ListedVersion, 'base' | 'adapter'> & { current: boolean }> }>;
}

/** Pure: the versions found and current.json, grouped per base (as current.json or meta.json spells it) and adapter. */
export function groupVersions(versions: readonly ListedVersion[], current: CurrentAdapters): BaseView[] {
  const bases = new Map<string, BaseView>();
  const viewOf = (base: string): BaseView => {
    const key = normalizeBase(base);
    let v = bases.get(key);
    if (!v) bases.set(key, (v = { base, current: entryOf(current, base)?.entry ?? null, adapters: [] }));
    return v;
  };
  for (const base of Object.keys(current)) viewOf(base);
  for (const lv of versions) {
    const b = viewOf(lv.base);
    let a = b.adapters.find((x) => x.name === lv.adapter);
    if (!a) b.adapters.push((a = { name: lv.adapter, versions: [] }));
    const { base: _b, adapter: _a, ...rest } = lv;
    a.versions.push({ ...rest, current: b.current?.adapter === lv.adapter && b.current.version === lv.version });
  }
  return [...bases.values()].sort((x, y) => (x.base < y.base ? -1 : 1));
}

function render(bases: BaseView[], file: string, problem: string | null): string {
  const lines: string[] = [];
  if (problem) lines.push(`current.json is not usable: ${problem}`, '');
  if (!bases.length) lines.push(`no adapters on this mount (${file.replace(/current\.json$/, '')})`);
  for (const b of bases) {
    const c = b.current;
    lines.push(`${b.base}  current: ${c ? `${c.adapter} ${c.version} (since ${c.promoted_at}${c.score !== null ? `, score ${c.score}` : ''}${c.by ? `, by ${c.by}` : ''})` : 'none'}`);
    if (c?.previous.length) lines.push(`  before: ${c.previous.map((p) => `${p.adapter} ${p.version}`).join(', ')}`);
    for (const a of b.adapters) {
      lines.push(`  ${a.name}`);
      for (const v of a.versions) {
        const score = v.score !== null ? `score ${v.score}` : 'no score';
        lines.push(`    ${v.current ? '*' : ' '} ${v.version}  ${v.created_at ?? '-'}  ${score}${v.batch ? `  batch ${v.batch}` : ''}${v.problem ? `  UNUSABLE: ${v.problem}` : ''}`);
      }
    }
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values, positionals, shared } = parseCommand(USAGE, { json: { type: 'boolean' } }, undefined, { positionals: { max: 4 } });
  const paths = mountPaths(shared);
  const [verb, ...args] = positionals;
  const log = () => DecisionLog.spool(paths, 'forge-adapters');
  if (verb === undefined) {
    const read = await readCurrent(paths);
    const bases = groupVersions(await listVersions(paths), read.ok ? read.value : {});
    const problem = read.ok ? null : read.problem;
    writeStdout(values.json ? JSON.stringify({ current_file: currentFile(paths), current_problem: problem, bases }, null, 2) + '\n' : render(bases, currentFile(paths), problem));
    return;
  }
  if (values.json) usageError(USAGE, `--json lists; ${verb} prints what it did`);
  let change;
  if (verb === 'promote') {
    if (args.length !== 3) usageError(USAGE, `promote takes BASE ADAPTER VERSION, e.g. forge adapters promote qwen2.5:7b support v3; got ${args.length} argument${args.length === 1 ? '' : 's'}`);
    const [base, adapter, version] = args as [string, string, string];
    change = await promoteVersion(paths, base, { adapter, version }, { now: Date.now, by: 'forge adapters' });
    if (change.ok && change.changed) await log().write({ who: 'forge-adapters', what: 'PROMOTE', task: null, reason: change.message });
  } else if (verb === 'rollback') {
    if (args.length !== 1) usageError(USAGE, `rollback takes BASE, e.g. forge adapters rollback qwen2.5:7b; got ${args.length} arguments`);
    change = await rollbackBase(paths, args[0]!, { now: Date.now, by: 'forge adapters' });
    if (change.ok && change.changed) await log().write({ who: 'forge-adapters', what: 'ROLLBACK', task: null, reason: change.message });
  } else {
    usageError(USAGE, `unknown action '${verb}'; allowed: promote, rollback (or none, to list)`);
  }
  if (!change.ok) {
    process.stderr.write(`forge adapters ${verb}: ${change.problem}\n`);
    process.exitCode = 1;
    return;
  }
  writeStdout(change.message + '\n');
}

runCommand(main);
