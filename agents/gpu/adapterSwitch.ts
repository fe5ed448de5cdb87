// When a hot agent moves its model to the adapter version current.json now names. Pure.
// The boundary is "no llm task running on this agent": a task runs to its end on the version
// it started with. Until the switch is done, the agent claims no llm task (its heartbeat's
// accepts drops llm), so a task queued after a promotion is answered by the new version.

export interface SwitchView {
  /** The model the agent holds (as config and plans name it); null when cold. */
  held: string | null;
  /** What it runs and what current.json names now, when they differ. */
  pending: { from: string; to: string; served: string } | null;
  /** llm tasks running on this agent. */
  llmRunning: number;
  /** A model load (a meta task, or a switch) in progress. */
  loading: boolean;
  /** The served name of a switch that failed since current.json last changed: not tried again until it changes. */
  failed: string | null;
}

export type SwitchStep =
  | { do: 'none' }
  | { do: 'hold'; reason: string }
  | { do: 'switch'; model: string; reason: string }
  /** The switch to this version failed before: keep serving the one held (and say so once). */
  | { do: 'keep'; reason: string };

export function decideAdapterSwitch(v: SwitchView): SwitchStep {
  if (!v.held || !v.pending) return { do: 'none' };
  const { from, to } = v.pending;
  if (v.failed !== null && v.failed === v.pending.served) {
    return { do: 'keep', reason: `${v.held}: ${to} could not be loaded; serving ${from} until adapters/current.json changes` };
  }
  if (v.loading) return { do: 'hold', reason: `${v.held}: ${to} is current; a model load is in progress, llm tasks wait` };
  if (v.llmRunning > 0) {
    return { do: 'hold', reason: `${v.held}: ${to} is current; ${v.llmRunning} llm task${v.llmRunning === 1 ? '' : 's'} on ${from} finish first, no new llm task is claimed meanwhile` };
  }
  return { do: 'switch', model: v.held, reason: `${v.held}: adapters/current.json names ${to}; switching from ${from}` };
}
