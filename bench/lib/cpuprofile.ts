// Summarise a V8 .cpuprofile (node --cpu-prof): self time by function and by where the code lives, to say what a
// CPU-bound workload spends its time on.
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Top functions by self time: [label, % of samples]. */
  functions: [string, number][];
  /** Self time by area (GC, idle, grpc-js, node:net, ...): [area, %]. */
  areas: [string, number][];
}

function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('@grpc/grpc-js')) return 'grpc-js';
  if (url.includes('prom-client')) return 'prom-client';
  if (url.includes('/workloads/')) return 'Alerting Engine code';
  if (/^node:(net|internal\/net|internal\/stream_base_commons|internal\/tcp)/.test(url) || url.includes('internal/net'))
    return 'node: net (sockets)';
  if (url.includes('http2')) return 'node: http2';
  if (url.includes('timers')) return 'node: timers';
  if (url.startsWith('node:internal/errors') || fn.includes('Error') || fn === 'captureLargerStackTrace') return 'node: errors';
  if (url.startsWith('node:')) return 'node: other';
  if (url === '' && fn) return `native: ${fn}`;
  return 'other';
}

export async function summarizeCpuProfile(file: string, top = 12): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const fns = new Map<string, number>(),
    areas = new Map<string, number>();
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    const short = cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(workloads|dist)\//, '$1/');
    const label = `${cf.functionName || '(anonymous)'}${short ? ` ${short}:${cf.lineNumber + 1}` : ''}`;
    fns.set(label, (fns.get(label) ?? 0) + us);
    const a = area(cf.url, cf.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const pct = (m: Map<string, number>, n: number): [string, number][] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => [k, Math.round((1000 * v) / total) / 10]);
  return { totalMs: total / 1000, functions: pct(fns, top), areas: pct(areas, 12) };
}
