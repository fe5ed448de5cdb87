// When an agent has been constrained (temperature, VRAM, power) for longer than
// outbox.constrained_after_s, people are told once per stretch: a card that runs hot for a
// minute under load is normal, one that stays hot for an hour needs a look.
import type { Heartbeat } from '../core/heartbeat.ts';

export interface ConstrainedSpell {
  /** Brain clock (ms) of the first heartbeat seen constrained in this stretch. */
  since: number;
  /** Whether this stretch was already announced. */
  told: boolean;
}

export interface ConstrainedAlert {
  agent: string;
  since: number;
  reasons: string[];
}

/**
 * Pure: the stretches after these heartbeats, and the ones to announce now. A heartbeat that
 * is not constrained ends its agent's stretch; an agent missing from `beats` keeps its own
 * (an unreadable heartbeat says nothing about the card).
 */
export function decideConstrained(
  spells: ReadonlyMap<string, ConstrainedSpell>,
  beats: ReadonlyArray<Pick<Heartbeat, 'name' | 'health' | 'health_reasons'>>,
  now: number,
  afterMs: number,
): { spells: Map<string, ConstrainedSpell>; alerts: ConstrainedAlert[] } {
  const next = new Map(spells);
  const alerts: ConstrainedAlert[] = [];
  for (const b of beats) {
    if (b.health !== 'constrained') {
      next.delete(b.name);
      continue;
    }
    const spell = next.get(b.name) ?? { since: now, told: false };
    if (!spell.told && now - spell.since >= afterMs) {
      alerts.push({ agent: b.name, since: spell.since, reasons: b.health_reasons });
      next.set(b.name, { ...spell, told: true });
    } else {
      next.set(b.name, spell);
    }
  }
  return { spells: next, alerts };
}
