// --simulate N: the config a simulated rig runs with. Only the outermost things change:
// nvidia-smi becomes the project's simulator and each GPU's Ollama a loopback server.
import type { Config, ConfigInput } from '../core/config.ts';
import { defaultGpus } from '../core/config.ts';
import { SIM_SANDBOX, simNvidiaSmiPath } from '../sim/simState.ts';

export function simulatedConfig(base: ConfigInput | Config | null, count: number, simDir: string, basePort: number): ConfigInput {
  return {
    ...(base ?? {}),
    gpus: defaultGpus(count, basePort),
    nvidia_smi: simNvidiaSmiPath(),
    ollama_host: '127.0.0.1',
    worker_env: { ...(base?.worker_env ?? {}), FORGE_SIM_DIR: simDir },
    sandbox: { ...(base?.sandbox ?? {}), ...SIM_SANDBOX },
  } as ConfigInput;
}
