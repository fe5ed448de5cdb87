// Starting a rig as a child process and waiting on the mount: used by the demo, the chaos
// run, the benchmark and the end-to-end tests, which all drive the real commands.
import { readdir } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { readBatchRecord, type BatchRecord } from '../../agents/core/batch.ts';
import { commandArgsFor, projectRoot } from '../../agents/core/entry.ts';
import { readHeartbeats } from '../../agents/core/heartbeat.ts';
import type { MountPaths } from '../../agents/core/paths.ts';

export function startRig(shared: string, simulate: number, basePort: number, opts: { quiet?: boolean } = {}): ResultPromise {
  return execa(process.execPath, [...commandArgsFor('rig'), '--simulate', String(simulate), '--shared', shared, '--base-port', String(basePort)], {
    reject: false,
    stdin: 'ignore',
    stdout: opts.quiet ? 'ignore' : 'pipe',
    stderr: opts.quiet ? 'ignore' : 'pipe',
    cleanup: true,
    cwd: projectRoot,
  });
}

export async function submitPlan(shared: string, plan: string, config?: Record<string, unknown>): Promise<string> {
  const args = [...commandArgsFor('submit'), plan, '--shared', shared];
  if (config) args.push('--config', JSON.stringify(config));
  const r = await execa(process.execPath, args, { reject: false, cwd: projectRoot });
  if (r.exitCode !== 0) throw new Error(`submit ${plan} failed (exit ${r.exitCode}):\n${r.stderr}`);
  const lines = String(r.stdout).trim().split('\n');
  return lines[lines.length - 1]!.trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function waitForAgents(paths: MountPaths, ids: number[], timeoutMs: number): Promise<unknown> {
  return waitFor('agent heartbeats', async () => (await readHeartbeats(paths, ids)).length === ids.length, timeoutMs);
}

/**
 * The batch's final record, once the brain has also archived its task files (it writes the
 * final state first, then moves the files out of complete/ and failed/ into
 * tasks/archive/<batch>/ in the same pass): a caller that reads the archive next finds them.
 */
export async function waitForBatchEnd(paths: MountPaths, batchId: string, timeoutMs: number, onTick?: (rec: BatchRecord | null) => void): Promise<BatchRecord> {
  return waitFor(`batch ${batchId} to finish and be archived`, async () => {
    const rec = await readBatchRecord(paths, batchId);
    onTick?.(rec);
    if (!rec || !['complete', 'failed', 'cancelled'].includes(rec.state)) return null;
    for (const folder of [paths.folders.complete, paths.folders.failed]) {
      const left = await readdir(folder).catch(() => [] as string[]);
      if (left.some((n) => n.startsWith(`${batchId}__`))) return null;
    }
    return rec;
  }, timeoutMs, 200);
}
