// One `dig` query, the independent DNS check: the same argv and the same reading of the answer wherever dig runs
// (a lab namespace, a node container, a node of an existing cluster).
import type { RunResult } from '../exec.js';
import type { ClusterNode } from '../providers/types.js';

export interface DigOptions {
  tcp: boolean;
  timeoutS?: number;
}
export interface DigAnswer {
  ok: boolean;
  status: string;
}

/** dig's argv for one try (over UDP as pods ask node-local DNS, or over TCP). */
export function digArgv(server: string, name: string, o: DigOptions): string[] {
  return [...(o.tcp ? ['+tcp'] : []), '+tries=1', `+time=${o.timeoutS ?? 2}`, `@${server}`, name];
}

/** The answer's status (NOERROR, NXDOMAIN, SERVFAIL ...; TIMEOUT when dig printed none); ok = NOERROR. */
export function digAnswer(r: Pick<RunResult, 'stdout'>): DigAnswer {
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? 'TIMEOUT';
  return { ok: status === 'NOERROR', status };
}

/** Ask `server` from a node of any provider. */
export async function digOn(node: Pick<ClusterNode, 'exec'>, server: string, name: string, o: DigOptions): Promise<DigAnswer> {
  const r = await node.exec('dig', digArgv(server, name, o), { reject: false, timeoutMs: ((o.timeoutS ?? 2) + 3) * 1000 });
  return digAnswer(r);
}
