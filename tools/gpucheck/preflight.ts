// Before the check: which nvidia-smi, which GPU, which Python and whether its PyTorch sees a
// GPU. Every way this machine cannot run the check comes back as { ok: false, message },
// which the command prints before exiting 2.
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { errorMessage } from '../../agents/core/errors.ts';
import { type SmiGpu, gpuQueryArgs, parseSmiGpus } from './smi.ts';
import type { PreflightInfo } from './report.ts';

export type Found<T> = { ok: true; value: T } | { ok: false; message: string };

/** Where nvidia-smi usually is when PATH does not list it (containers, minimal images). */
const USUAL_NVIDIA_SMI = ['/usr/bin/nvidia-smi', '/usr/local/nvidia/bin/nvidia-smi', '/usr/local/bin/nvidia-smi'];

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The nvidia-smi to use: the one given, else the first on PATH, else a usual place. */
export async function findNvidiaSmi(given: string | null, env: NodeJS.ProcessEnv = process.env): Promise<Found<string>> {
  if (given !== null) {
    const path = isAbsolute(given) || given.includes('/') ? resolve(given) : given;
    if (path.includes('/') && !(await isExecutable(path))) {
      return { ok: false, message: `--nvidia-smi ${given}: no executable file there; give the path of nvidia-smi (which nvidia-smi)` };
    }
    return { ok: true, value: path };
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((d) => join(d, 'nvidia-smi')), ...USUAL_NVIDIA_SMI]) {
    if (await isExecutable(candidate)) return { ok: true, value: candidate };
  }
  return {
    ok: false,
    message:
      `no nvidia-smi on PATH (${dirs.join(delimiter) || 'empty'}) nor in ${USUAL_NVIDIA_SMI.join(', ')}: this machine has no NVIDIA driver, ` +
      'so there is no GPU to check. Give --nvidia-smi PATH if it is elsewhere, or run with --simulate to exercise the check on the simulator.',
  };
}

/** One reading of the GPUs nvidia-smi lists (all, or one with gpu). */
export async function readSmiGpus(nvidiaSmi: string, env: Record<string, string>, gpu?: number): Promise<Found<SmiGpu[]>> {
  const r = await execa(nvidiaSmi, gpuQueryArgs(gpu), { reject: false, timeout: 15_000, env, stdin: 'ignore' });
  const out = String(r.stdout ?? '');
  if (r.failed || r.exitCode !== 0) {
    const said = `${out}\n${String(r.stderr ?? '')}`.trim().split('\n')[0] ?? '';
    return { ok: false, message: `${nvidiaSmi} ${gpuQueryArgs(gpu).join(' ')} failed (${r.timedOut ? 'no answer in 15 s' : `exit ${r.exitCode ?? r.signal}`})${said ? `: ${said}` : ''}` };
  }
  return { ok: true, value: parseSmiGpus(out) };
}

/** The GPU to check, as nvidia-smi lists it. */
export async function findGpu(nvidiaSmi: string, env: Record<string, string>, index: number): Promise<Found<SmiGpu>> {
  const all = await readSmiGpus(nvidiaSmi, env);
  if (!all.ok) return { ok: false, message: `${all.message}\nnvidia-smi cannot read the GPUs: no GPU to check here (run with --simulate to exercise the check without one)` };
  const gpu = all.value.find((g) => g.index === index);
  if (!gpu) {
    const seen = all.value.map((g) => `${g.index} (${g.name})`).join(', ');
    return { ok: false, message: `nvidia-smi lists no GPU ${index}; it lists: ${seen || 'none'}. Give --gpu with one of these.` };
  }
  return { ok: true, value: gpu };
}

const PROBE = `
import json, sys
r = {"executable": sys.executable, "version": sys.version.split()[0], "torch": None, "cuda": None, "devices": 0, "error": None}
try:
    import torch
    r["torch"] = torch.__version__
    r["cuda"] = bool(torch.cuda.is_available())
    r["devices"] = torch.cuda.device_count() if r["cuda"] else 0
except Exception as e:
    r["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(r))
`;

export type PythonInfo = NonNullable<PreflightInfo['python']>;

/** The Python that will run alloc.py, and whether its PyTorch sees the GPU the agent will give it. */
export async function probePython(python: string, gpu: number): Promise<Found<PythonInfo>> {
  const r = await execa(python, ['-c', PROBE], {
    reject: false,
    timeout: 90_000,
    stdin: 'ignore',
    env: { CUDA_VISIBLE_DEVICES: String(gpu) },
  });
  if ((r as { code?: string }).code === 'ENOENT') {
    return { ok: false, message: `${python}: not found on PATH. The real workload is a Python script using PyTorch: give --python PATH naming a Python that has torch.` };
  }
  const line = String(r.stdout ?? '').trim().split('\n').pop() ?? '';
  let info: { executable: string; version: string; torch: string | null; cuda: boolean | null; devices: number; error: string | null };
  try {
    info = JSON.parse(line) as typeof info;
  } catch (err) {
    return { ok: false, message: `${python} -c <probe> did not answer (exit ${r.exitCode ?? r.signal}${r.timedOut ? ', no answer in 90 s' : ''}): ${String(r.stderr ?? '').trim().slice(-400) || errorMessage(err)}` };
  }
  if (info.torch === null) {
    return {
      ok: false,
      message: `PyTorch is not installed for ${info.executable} (${info.error ?? 'import torch failed'}). The real workload allocates GPU memory with torch: install it, or give --python PATH naming a Python that has it.`,
    };
  }
  if (!info.cuda) {
    return { ok: false, message: `torch ${info.torch} in ${info.executable} sees no CUDA GPU with CUDA_VISIBLE_DEVICES=${gpu}: a CPU-only build of torch, or the driver is not reachable.` };
  }
  return { ok: true, value: { executable: info.executable, version: info.version, torch: info.torch, cuda: info.cuda } };
}
