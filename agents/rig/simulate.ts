// --simulate N: the config a simulated rig runs with. Only the outermost things change:
// nvidia-smi becomes the project's simulator and each GPU's LLM server a loopback simulator
// the rig starts (roles.ts). Each GPU keeps what a base config says of the same index (its
// model, runtime and num_parallel), so a test or a person can simulate, say, three cards
// serving two requests each, or OpenAI-compatible servers, by writing a config first.
import type { Config, ConfigInput, GpuConfig } from '../core/config.ts';
import { defaultGpus } from '../core/config.ts';
import { SIM_SANDBOX, simNvidiaSmiPath } from '../sim/simState.ts';

type BaseGpu = Partial<Pick<GpuConfig, 'model' | 'runtime' | 'num_parallel'>>;

export function simulatedGpus(base: readonly BaseGpu[], count: number, basePort: number): GpuConfig[] {
  return defaultGpus(count, basePort).map((g, i) => {
    const from = base[i] ?? {};
    const runtime = from.runtime ?? g.runtime;
    // The simulator is the server: no serve command. The rig starts it for every simulated
    // GPU; manage says so where config.ts allows it without a command (an openai runtime the
    // rig manages must name its command, which a simulated card has none of).
    return { ...g, model: from.model ?? g.model, runtime, num_parallel: from.num_parallel ?? g.num_parallel, manage: runtime === 'ollama', serve: null };
  });
}

export function simulatedConfig(base: ConfigInput | Config | null, count: number, simDir: string, basePort: number): ConfigInput {
  return {
    ...(base ?? {}),
    gpus: simulatedGpus(base?.gpus ?? [], count, basePort),
    nvidia_smi: simNvidiaSmiPath(),
    ollama_host: '127.0.0.1',
    worker_env: { ...(base?.worker_env ?? {}), FORGE_SIM_DIR: simDir },
    sandbox: { ...(base?.sandbox ?? {}), ...SIM_SANDBOX },
  } as ConfigInput;
}
