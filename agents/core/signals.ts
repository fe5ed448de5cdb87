// signals/<agent>.stop|abort|kill: files a person can create with touch or echo.
import type { Dirent } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.ts';
import { isGone } from './errors.ts';
import { readProblem } from './mountJson.ts';
import { readMountFile } from './mountRead.ts';
import type { MountPaths } from './paths.ts';
import { assertSafeName, isSafeName } from './paths.ts';
import { quarantine } from './quarantine.ts';

/** A signal file holds a task id and a newline, or nothing (bytes): anything larger is not a signal. */
export const MAX_SIGNAL_BYTES = 1024;

export const SIGNAL_KINDS = ['stop', 'abort', 'kill'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

export interface PendingSignal {
  kind: SignalKind;
  /** For abort and kill: the task id (file content); empty for stop. */
  taskId: string | null;
  file: string;
  /** Why the signal is refused and not acted on (not a regular file, too big, content not a task id); null when valid. */
  refused: string | null;
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

/**
 * Signals addressed to one agent. Content is trimmed: `echo ID > file` leaves a newline. A file
 * that is not a regular file, is too big, or holds anything but one task id (a safe name: no
 * spaces, no newlines) is returned refused, with the reason: never acted on, never logged raw.
 */
export async function readSignals(paths: MountPaths, agent: string): Promise<PendingSignal[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(paths.signals, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return [];
    throw err;
  }
  const names = new Set(entries.map((e) => e.name));
  const out: PendingSignal[] = [];
  for (const kind of SIGNAL_KINDS) {
    const name = `${agent}.${kind}`;
    if (!names.has(name)) continue;
    const file = join(paths.signals, name);
    const r = await readMountFile(file, { maxBytes: MAX_SIGNAL_BYTES });
    if (!r.ok) {
      if (r.why !== 'missing') out.push({ kind, taskId: null, file, refused: `signals/${name} ${readProblem(r, file)}` });
      continue;
    }
    const content = r.text.trim();
    if (kind !== 'stop' && content !== '' && !isSafeName(content)) {
      out.push({ kind, taskId: null, file, refused: `signals/${name} does not hold one task id (letters, digits, '.', '_' and '-'; found ${r.size} bytes of something else)` });
      continue;
    }
    out.push({ kind, taskId: kind === 'stop' ? null : content || null, file, refused: null });
  }
  return out;
}

/** Consumes a signal: a valid one is deleted; a refused one is moved to quarantine/signals/ with its reason, for a person to see. */
export async function removeSignal(paths: MountPaths, sig: PendingSignal): Promise<void> {
  if (sig.refused) {
    await quarantine(paths, 'signals', sig.file, sig.file.split('/').pop() ?? 'signal', sig.refused);
    return;
  }
  await unlink(sig.file).catch((err) => {
    if (!isGone(err)) throw err;
  });
}
