// Reads the mount's metrics/*.prom (written whole by the brain and each agent) and joins them
// into one exposition, for `forge metrics`. Only regular files of bounded size are read: the
// folder is on a shared mount, and a link, a fifo or a huge file there must not hang or
// flood the server. A stale file is still served; its age says how stale.
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempName } from './atomic.ts';
import { errorCode } from './errors.ts';
import type { MountPaths } from './paths.ts';
import { type Family, formatFamilies, mergeExpositions } from './promText.ts';

/** Larger than any file a rig of many GPUs writes (a few KB each). */
export const MAX_METRICS_FILE_BYTES = 1024 * 1024;

export interface MetricsFile {
  name: string;
  text: string;
  /** Seconds since it was last written (reader's clock against the file's mtime), never below 0. */
  ageS: number;
}

/** The .prom files of metrics/ that can be served, by name; what was skipped and why, for stderr. */
export async function readMetricsFiles(paths: MountPaths, now: number): Promise<{ files: MetricsFile[]; skipped: string[] }> {
  let names: string[];
  try {
    names = (await readdir(paths.metrics)).filter((n) => n.endsWith('.prom') && !isTempName(n)).sort();
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { files: [], skipped: [] };
    throw err;
  }
  const files: MetricsFile[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    const path = join(paths.metrics, name);
    try {
      const st = await lstat(path);
      if (!st.isFile()) {
        skipped.push(`${name}: not a regular file`);
        continue;
      }
      if (st.size > MAX_METRICS_FILE_BYTES) {
        skipped.push(`${name}: ${st.size} bytes, over the ${MAX_METRICS_FILE_BYTES} allowed`);
        continue;
      }
      // Read no more than the limit even if it grew since lstat.
      const text = (await readFile(path, 'utf8')).slice(0, MAX_METRICS_FILE_BYTES);
      files.push({ name, text, ageS: Math.max(0, Math.round((now - st.mtimeMs) / 100) / 10) });
    } catch (err) {
      // Replaced or removed between the listing and the read: the next scrape finds the new one.
      skipped.push(`${name}: ${errorCode(err) ?? String(err)}`);
    }
  }
  return { files, skipped };
}

/** One exposition: the files' families joined, then each file's age. Pure. */
export function assembleMetrics(files: readonly MetricsFile[]): string {
  const age: Family = {
    name: 'forge_metrics_file_age_seconds', help: 'Seconds since each metrics file on the mount was written (a stale one means its writer stopped).', type: 'gauge',
    samples: files.map((f) => ({ labels: { file: f.name }, value: f.ageS })),
  };
  return mergeExpositions([...files.map((f) => f.text), files.length ? formatFamilies([age]) : '']);
}
