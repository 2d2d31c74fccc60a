// Every resource a run creates carries the run id: `nd-<runid>-<what>`. `notdns down --all` sweeps by the prefix.
import { randomBytes } from 'node:crypto';

export const PREFIX = 'nd-';

export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

export function nsName(runId: string, what: string): string {
  return `${PREFIX}${runId}-${what}`;
}

/** Run id of a namespace/dir name made by nsName, or undefined if it is not ours. */
export function runIdOf(name: string): string | undefined {
  const m = /^nd-([0-9a-f]{6})-/.exec(name);
  return m?.[1];
}

/** Run ids this process created (a forced cleanup sweeps only these). */
export const activeRuns = new Set<string>();
