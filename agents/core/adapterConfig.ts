// The config's model names checked for adapter versions (gpus[].model, default_model, models):
// each must read as `base` or `base#adapter:version` (adapterRef.ts), and an adapter version
// needs an Ollama runtime: an OpenAI-compatible server (llama-server, vLLM) serves the one model
// it was started with and cannot take an adapter on request. Pure.
import { baseOf, parseModelRef, sameModelRef } from './adapterRef.ts';

/** The parts of the config that name models (a structural type: config.ts calls this). */
export interface ModelNaming {
  gpus: ReadonlyArray<{ model: string; runtime: string }>;
  default_model: string | null;
  models: Readonly<Record<string, unknown>>;
}

export function adapterConfigProblems(config: ModelNaming, where: string): string[] {
  const problems: string[] = [];
  const check = (field: string, name: string): boolean => {
    const r = parseModelRef(name);
    if (!r.ok) problems.push(`${where}: ${field}: ${r.problem}`);
    return r.ok && r.ref.pinned !== null;
  };
  for (const [i, g] of config.gpus.entries()) {
    const pinned = check(`gpus.${i}.model`, g.model);
    if (pinned && g.runtime !== 'ollama') {
      problems.push(`${where}: gpus.${i}.model: '${g.model}' names an adapter version, which needs "runtime": "ollama"; an ${g.runtime} server serves the one model it was started with (give its serve command the adapter, e.g. llama-server --lora FILE, and name the base model here)`);
    }
  }
  if (config.default_model !== null) check('default_model', config.default_model);
  for (const name of Object.keys(config.models)) check(`models.${JSON.stringify(name)}`, name);
  return problems;
}

/**
 * A model's declared size in config `models`: its own entry, else its base's for a name with
 * an adapter version (an adapter adds little to what the base holds resident); null when neither.
 */
export function declaredModelMb(models: Readonly<Record<string, { vram_mb: number }>>, model: string): number | null {
  const find = (name: string) => Object.entries(models).find(([m]) => sameModelRef(m, name))?.[1].vram_mb ?? null;
  return find(model) ?? (baseOf(model) !== model ? find(baseOf(model)) : null);
}
