// logs/training_samples.jsonl: every prompt/response pair the workers saw, one JSON object
// per line, kept for fine-tuning later. Many workers on several GPUs append at once, over
// a network mount where O_APPEND is not atomic between clients (each NFS client computes
// the end of the file itself) and a long line can be written in several pieces. So each
// append takes a lock on the file, writes the whole line with one write, flushes it to the
// server, and only then lets the next writer in.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';

export interface TrainingSample {
  /** When the response came back (ISO time). */
  ts: string;
  task_id: string;
  batch: string;
  model: string;
  /** Task type: generate or parse. */
  type: string;
  prompt: string;
  response: string;
  /** Whether the response was usable (parse: valid JSON that fits the schema). */
  ok: boolean;
}

export interface AppendOptions {
  /** A lock not refreshed for this long is taken over, in ms. Default 30 000 (an append takes milliseconds). */
  staleMs?: number;
  /** Attempts to take the lock, with backoff between them. Default 200 (tens of seconds in all). */
  retries?: number;
}

export function formatTrainingSample(sample: TrainingSample): string {
  // JSON.stringify escapes every newline inside strings: one sample is exactly one line.
  return JSON.stringify({
    ts: sample.ts,
    task_id: sample.task_id,
    batch: sample.batch,
    model: sample.model,
    type: sample.type,
    prompt: sample.prompt,
    response: sample.response,
    ok: sample.ok,
  }) + '\n';
}

export async function appendTrainingSample(file: string, sample: TrainingSample, opts: AppendOptions = {}): Promise<void> {
  const line = Buffer.from(formatTrainingSample(sample), 'utf8');
  await mkdir(dirname(file), { recursive: true });
  // proper-lockfile locks an existing file: create it empty if it is not there yet ('a' never truncates).
  await (await open(file, 'a')).close();
  let compromised: Error | null = null;
  const release = await lockfile.lock(file, {
    realpath: false,
    stale: opts.staleMs ?? 30_000,
    retries: { retries: opts.retries ?? 200, factor: 1.5, minTimeout: 5, maxTimeout: 250, randomize: true },
    // The default throws from a timer and would crash the worker.
    onCompromised: (err) => {
      compromised = err;
    },
  });
  try {
    const handle = await open(file, 'a');
    try {
      let written = 0;
      // One write call; the loop only runs again if the kernel took part of it (it does not for regular files).
      while (written < line.length) {
        const { bytesWritten } = await handle.write(line, written, line.length - written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  } finally {
    if (!compromised) await release().catch(() => {});
  }
  if (compromised) {
    throw new Error(`training samples lock on ${file} was lost while appending: ${(compromised as Error).message}`);
  }
}
