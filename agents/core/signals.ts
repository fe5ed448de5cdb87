// signals/<agent>.stop|abort|kill: files a person can create with touch or echo.
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { errorCode } from './errors.ts';
import type { MountPaths } from './paths.ts';
import { assertSafeName } from './paths.ts';

export const SIGNAL_KINDS = ['stop', 'abort', 'kill'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export interface PendingSignal {
  kind: SignalKind;
  /** For abort and kill: the task id (file content); empty for stop. */
  taskId: string | null;
  file: string;
}

export function signalPath(paths: MountPaths, agent: string, kind: SignalKind): string {
  assertSafeName(agent, 'agent name');
  return join(paths.signals, `${agent}.${kind}`);
}

export async function writeSignal(paths: MountPaths, agent: string, kind: SignalKind, taskId?: string): Promise<string> {
  if (taskId) assertSafeName(taskId, 'task id');
  const file = signalPath(paths, agent, kind);
  await writeFileAtomic(file, taskId ? taskId + '\n' : '');
  return file;
}

/** Signals addressed to one agent. Content is trimmed: `echo ID > file` leaves a newline. */
export async function readSignals(paths: MountPaths, agent: string): Promise<PendingSignal[]> {
  let names: string[];
  try {
    names = await readdir(paths.signals);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: PendingSignal[] = [];
  for (const kind of SIGNAL_KINDS) {
    const name = `${agent}.${kind}`;
    if (!names.includes(name)) continue;
    const file = join(paths.signals, name);
    const content = await readFile(file, 'utf8').catch(() => null);
    if (content === null) continue;
    out.push({ kind, taskId: content.trim() || null, file });
  }
  return out;
}

export async function removeSignal(sig: PendingSignal): Promise<void> {
  await unlink(sig.file).catch((err) => {
    if (errorCode(err) !== 'ENOENT') throw err;
  });
}
