// Adapter versions on a test mount, as a trainer leaves them: meta.json and a small adapter file.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { versionDir } from '../../agents/core/adapters.ts';
import type { MountPaths } from '../../agents/core/paths.ts';

/** Writes version `version` of `adapter` for `base`; returns the adapter file's sha256 (hex). */
export async function writeAdapterVersion(paths: Pick<MountPaths, 'root'>, base: string, adapter: string, version: string, o: { score?: number | null; file?: string } = {}): Promise<string> {
  const dir = versionDir(paths, base, { adapter, version });
  await mkdir(dir, { recursive: true });
  const file = o.file ?? 'adapter.gguf';
  const bytes = Buffer.from(`fake lora ${base} ${adapter} ${version}\n`);
  await writeFile(join(dir, file), bytes);
  await writeFile(join(dir, 'meta.json'), JSON.stringify({ base, adapter, version, file, created_at: '2026-12-01T00:00:00.000Z', score: o.score ?? null, batch: null }));
  return createHash('sha256').update(bytes).digest('hex');
}
