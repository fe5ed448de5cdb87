// The systemd unit of a rig host, from the one the release ships (share/systemd/forge-rig.service)
// with this host's install folder, mount and user put in. Pure: the template and the choices in,
// the unit's text or the problem out. `forge install-service` writes what this returns.
import { isAbsolute } from 'node:path';

export interface UnitChoices {
  /** The release the unit runs (its bin/forge), e.g. /opt/forge/current. */
  prefix: string;
  /** The shared mount the rig runs on. */
  shared: string;
  /** The user (and group) the rig runs as. */
  user: string;
}

/** The paths and user the shipped unit names, replaced by the host's own. */
export const SHIPPED = { prefix: '/opt/forge/current', shared: '/srv/forge/shared', user: 'forge' } as const;

/** A systemd word may not hold white space, quotes, a backslash, `%` or `$` (specifiers and expansions) without escaping; refused, not escaped. */
const PLAIN = /^[^\s"'\\%$;]+$/;

export function renderUnit(template: string, c: UnitChoices): { ok: true; text: string } | { ok: false; problem: string } {
  for (const [what, v] of [['--prefix', c.prefix], ['--shared', c.shared]] as const) {
    if (!isAbsolute(v)) return { ok: false, problem: `${what} ${v}: give an absolute path (systemd runs the unit from /)` };
    if (!PLAIN.test(v)) return { ok: false, problem: `${what} ${v}: a path with spaces, quotes, %, $ or ; cannot go into a unit as written; use a plain path (a symlink to it works)` };
  }
  if (!/^[a-z_][a-z0-9_-]*[$]?$/i.test(c.user)) return { ok: false, problem: `--user ${c.user}: give a user name (letters, digits, _ and -)` };
  const prefix = c.prefix.replace(/\/+$/, '') || '/';
  const shared = c.shared.replace(/\/+$/, '') || '/';
  const text = template
    .replaceAll(SHIPPED.prefix, prefix)
    .replaceAll(SHIPPED.shared, shared)
    .replace(/^User=.*$/m, `User=${c.user}`)
    .replace(/^Group=.*$/m, `Group=${c.user}`);
  return { ok: true, text };
}
