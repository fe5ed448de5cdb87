// logs/training_samples.jsonl: every prompt/response pair the workers saw, one JSON object
// per line, kept for fine-tuning later. Many workers on several hosts produce samples at
// once, over a network mount where O_APPEND is not atomic between clients (each NFS client
// computes the end of the file itself). So no worker appends to it: each writes its sample
// as a file of its own in logs/spool/samples/, whole by rename, and the brain, the file's
// one writer, appends each such file to it and removes it (agents/brain/logMerge.ts).
import { writeSampleFile } from '../core/spool.ts';

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

/**
 * Leaves one sample for the brain to append to logs/training_samples.jsonl: a new file in
 * `spoolDir` (<shared>/logs/spool/samples, mountPaths().spoolSamples). No lock, no append:
 * nothing another process writes is touched. Returns the file's path.
 */
export function writeTrainingSample(spoolDir: string, sample: TrainingSample): Promise<string> {
  return writeSampleFile(spoolDir, sample.task_id, formatTrainingSample(sample));
}
