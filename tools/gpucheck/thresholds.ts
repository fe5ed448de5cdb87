// The agent's resource limits for the check: low enough that the check's own load makes the
// agent constrained, high enough that the idle card keeps it healthy, so the check sees
// healthy → constrained → healthy. Pure: chosen from one idle reading and the task sizes.

export interface IdleReading {
  memory_used_mb: number | null;
  memory_total_mb: number | null;
  power_draw_w: number | null;
  power_limit_w: number | null;
  temperature_c: number | null;
}

export interface CheckThresholds {
  max_vram_percent: number;
  max_power_w: number;
  max_temp_c: number;
  /** One line per limit: its value and why. */
  why: string[];
  /** Why the check may not see a transition with these limits (empty when fine). */
  warnings: string[];
}

/** Share of the way from idle power to the power limit where the power threshold sits. */
export const POWER_FRACTION = 0.3;
/** The config's default temperature limit: the check leaves temperature alone. */
export const DEFAULT_MAX_TEMP_C = 85;
/** Stands for "no limit" where the card does not report a figure (the schema needs a number). */
const NO_LIMIT_W = 100_000;

export function chooseThresholds(
  idle: IdleReading,
  sizesMb: readonly number[],
  overrides: { vramPercent: number | null; powerW: number | null },
): CheckThresholds {
  const why: string[] = [];
  const warnings: string[] = [];
  const smallest = Math.min(...sizesMb);
  const total = idle.memory_total_mb;
  const usedIdle = idle.memory_used_mb ?? 0;

  let vram: number;
  if (overrides.vramPercent !== null) {
    vram = overrides.vramPercent;
    why.push(`max_vram_percent ${vram}: given with --vram-threshold`);
  } else if (total) {
    // Idle use plus half the smallest allocation: any one task alone crosses it.
    const mark = usedIdle + smallest / 2;
    vram = clamp(Math.ceil((100 * mark) / total), 1, 99);
    why.push(
      `max_vram_percent ${vram}: idle use ${usedIdle} MiB + half the smallest allocation (${smallest} MiB) = ${Math.round(mark)} MiB of ${total} MiB; any one task crosses it, the idle card does not`,
    );
  } else {
    vram = 95;
    why.push('max_vram_percent 95: the card does not report its memory, so VRAM cannot be the trigger');
    warnings.push('memory.total is not reported: the VRAM threshold cannot be chosen');
  }
  if (total) {
    const idlePct = (100 * usedIdle) / total;
    const loadedPct = (100 * (usedIdle + smallest)) / total;
    if (idlePct >= vram) warnings.push(`the idle card already uses ${idlePct.toFixed(1)}% of its memory, at or above max_vram_percent ${vram}: the agent starts constrained and will claim no script task`);
    else if (loadedPct < vram) warnings.push(`the smallest task (${smallest} MiB) brings the card to ${loadedPct.toFixed(1)}%, under max_vram_percent ${vram}: VRAM alone may not make the agent constrained`);
  }

  let power: number;
  const idleW = idle.power_draw_w;
  const limitW = idle.power_limit_w;
  if (overrides.powerW !== null) {
    power = overrides.powerW;
    why.push(`max_power_w ${power}: given with --power-threshold`);
  } else if (idleW !== null && limitW !== null && limitW > idleW) {
    power = Math.round(idleW + POWER_FRACTION * (limitW - idleW));
    why.push(
      `max_power_w ${power}: idle draw ${idleW.toFixed(0)} W + ${POWER_FRACTION * 100}% of the way to the ${limitW.toFixed(0)} W limit; matmuls pass it, an idle card does not`,
    );
  } else {
    power = NO_LIMIT_W;
    why.push(`max_power_w ${power} (no limit): the card does not report power draw and limit`);
  }
  if (idleW !== null && idleW >= power) warnings.push(`the idle card draws ${idleW.toFixed(0)} W, at or above max_power_w ${power}: the agent starts constrained`);

  why.push(`max_temp_c ${DEFAULT_MAX_TEMP_C}: the config's default (the check does not heat the card on purpose)`);
  if (idle.temperature_c !== null && idle.temperature_c >= DEFAULT_MAX_TEMP_C) {
    warnings.push(`the idle card is at ${idle.temperature_c} C, at or above max_temp_c ${DEFAULT_MAX_TEMP_C}: the agent starts constrained`);
  }
  return { max_vram_percent: vram, max_power_w: power, max_temp_c: DEFAULT_MAX_TEMP_C, why, warnings };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
