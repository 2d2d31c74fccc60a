// What a lab run needs on this machine, checked before anything is created.
import { accessSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { NotdnsError } from '../../errors.js';
import { installCommand, LAB_PACKAGES } from '../../doctor.js';

/** Commands every lab run executes (with node-local DNS also the DNS daemons and dig): refused up front when one is
 *  missing, before anything is created, instead of a timeout half-way through bring-up. */
export function requireLabTools(nodeLocalDns: boolean): void {
  const cmds = ['ip', 'tc', 'nft', 'bpftool', ...(nodeLocalDns ? ['unbound', 'nsd', 'dig', 'socat'] : [])];
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const onPath = (c: string) =>
    dirs.some((d) => {
      try {
        accessSync(join(d, c), fsc.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = cmds.filter((c) => !onPath(c));
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((c) => LAB_PACKAGES[c] ?? c))];
  throw new NotdnsError(
    `the lab needs ${missing.map((c) => `${c} (Debian package ${LAB_PACKAGES[c] ?? c})`).join(', ')}, not found on PATH.`,
    {
      kind: 'environment',
      hint: `Install it: ${installCommand(pkgs)}. \`notdns doctor\` checks everything the lab needs.`,
    },
  );
}
