// What the benchmark ran on: its figures mean little without the machine beside them.
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { basename } from 'node:path';
import { execa } from 'execa';

export interface Machine {
  cores: number;
  cpu_model: string;
  memory_gb: number;
  /** The file system the temporary mounts live on, e.g. "/dev/vda ext4, virtio disk (rotational=1)". */
  disk: string;
  node: string;
  os: string;
  date: string;
  /** The 1-minute load average when the run started and when it ended: other work on the machine skews every figure. */
  load_start: number;
  load_end: number | null;
}

export function loadNow(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

async function describeDisk(dir: string): Promise<string> {
  const r = await execa('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '--target', dir], { reject: false });
  const [source = '?', fstype = '?'] = String(r.stdout ?? '').trim().split(/\s+/);
  const dev = basename(source).replace(/[0-9]+$/, '').replace(/p$/, '');
  const rota = (await readFile(`/sys/block/${dev}/queue/rotational`, 'utf8').catch(() => '')).trim();
  const kind = dev.startsWith('vd') ? 'virtio disk' : dev.startsWith('nvme') ? 'NVMe' : dev.startsWith('sd') ? 'SATA/SCSI disk' : dev || 'unknown device';
  const rotational = rota === '' ? '' : ` (kernel: rotational=${rota}${dev.startsWith('vd') ? ', not meaningful for a virtual disk' : ''})`;
  return `${dir} on ${source} ${fstype}, ${kind}${rotational}`;
}

export async function describeMachine(): Promise<Machine> {
  const os = await readFile('/etc/os-release', 'utf8').then((t) => /^PRETTY_NAME="?([^"\n]*)/m.exec(t)?.[1] ?? 'Linux', () => process.platform);
  return {
    cores: availableParallelism(),
    cpu_model: cpus()[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    disk: await describeDisk(tmpdir()),
    node: process.version,
    os,
    date: new Date().toISOString(),
    load_start: loadNow(),
    load_end: null,
  };
}
