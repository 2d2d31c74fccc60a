#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/benchmarks, one after the other (the machine has 2 cores: nothing runs
// in parallel), then bench/results/latest.md and latest.json. `--only <name>` runs one (or a comma list) and writes
// bench/results/partial.{md,json} instead. See bench/README.md.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repoRoot } from '../harness/paths.js';
import { cleanupAll } from './lib/lab.js';
import { busyPct, hostCpu, load1, machine } from './lib/proc.js';
import { round } from './lib/stats.js';
import { checkTarget, type Benchmark, type BenchResult } from './lib/types.js';
import { renderMarkdown, spliceReadme, type Report } from './report.js';
import { labLifecycle } from './benchmarks/lab-lifecycle.js';
import { flagship } from './benchmarks/flagship.js';
import { loadgen } from './benchmarks/loadgen.js';
import { probeOverhead } from './benchmarks/probe-overhead.js';
import { podMemory } from './benchmarks/pod-memory.js';
import { enaCost } from './benchmarks/ena-cost.js';

export const BENCHMARKS: Benchmark[] = [labLifecycle, flagship, loadgen, probeOverhead, podMemory, enaCost];
const TOTAL_BUDGET_S = 600;

function usage(code: number): never {
  process.stdout.write(`usage: node dist/bench/run.js [--only NAME[,NAME...]] [--out DIR] [--list]
  --only   run only these benchmarks: ${BENCHMARKS.map((b) => b.name).join(', ')}
  --out    where to write the results (default: bench/results; a full run writes latest.{md,json}, --only partial.{md,json})
  --list   list the benchmarks and their planned time
`);
  process.exit(code);
}

function parseArgs(argv: string[]): { only?: string[]; out: string; list: boolean } {
  let only: string[] | undefined,
    out = join(repoRoot, 'bench', 'results'),
    list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only = [...(only ?? []), ...(argv[++i] ?? usage(2)).split(',').filter(Boolean)];
    else if (a.startsWith('--only=')) only = [...(only ?? []), ...a.slice(7).split(',').filter(Boolean)];
    else if (a === '--out') out = resolve(argv[++i] ?? usage(2));
    else if (a === '--list') list = true;
    else if (a === '-h' || a === '--help') usage(0);
    else {
      process.stderr.write(`unknown argument ${a}\n`);
      usage(2);
    }
  }
  for (const n of only ?? [])
    if (!BENCHMARKS.some((b) => b.name === n)) {
      process.stderr.write(`no benchmark named ${n}\n`);
      usage(2);
    }
  return { only, out, list };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(10)} ~${b.budgetSeconds} s  ${b.title}\n`);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, tc, BPF, sysctl). Run it with sudo or as root.\n');
    process.exit(2);
  }
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\nbench: ${sig}: cleaning up the labs this run created...\n`);
    cleanupAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const selected = args.only ? BENCHMARKS.filter((b) => args.only!.includes(b.name)) : BENCHMARKS;
  const mach = machine();
  const t0 = performance.now(),
    suiteCpu0 = hostCpu();
  const log = (l: string) =>
    process.stderr.write(
      `[${round((performance.now() - t0) / 1000, 1)
        .toFixed(1)
        .padStart(5)} s] ${l}\n`,
    );
  log(
    `machine: ${mach.cpuModel}, ${mach.cores} cores, kernel ${mach.kernel}, node ${mach.node}; load average ${mach.loadavgAtStart.join(' ')}`,
  );
  const results: BenchResult[] = [];
  for (const b of selected) {
    const b0 = performance.now(),
      l1 = load1(),
      c0 = hostCpu();
    log(`${b.name}: ${b.title} (planned ~${b.budgetSeconds} s; load ${l1})`);
    const res: BenchResult = { name: b.name, title: b.title, seconds: 0, load1AtStart: l1, hostBusyPct: NaN, rows: [] };
    try {
      Object.assign(res, await b.run({ deadline: b0 + b.budgetSeconds * 1000, log }));
    } catch (e) {
      res.error = (e as Error).message.split('\n')[0];
      log(`${b.name}: FAILED: ${(e as Error).stack ?? e}`);
    } finally {
      await cleanupAll(); // nothing should be left; a no-op unless a benchmark lost track of a lab
    }
    res.seconds = round((performance.now() - b0) / 1000, 1);
    res.hostBusyPct = round(busyPct(c0, hostCpu()), 1);
    for (const r of res.rows) if (r.target) r.met = checkTarget(r.target, r.value);
    for (const r of res.rows)
      log(
        `  = ${r.metric}: ${r.display ?? `${round(r.value, 3)} ${r.unit}`}${r.target ? ` (target ${r.target.text}: ${r.met ? 'met' : 'MISSED'})` : ''}`,
      );
    log(`${b.name}: done in ${res.seconds} s`);
    results.push(res);
  }
  const totalSeconds = round((performance.now() - t0) / 1000, 1);
  const rep: Report = {
    machine: mach,
    startedAt: mach.date,
    finishedAt: new Date().toISOString(),
    totalSeconds,
    load1AtEnd: load1(),
    only: args.only,
    benchmarks: results,
  };
  if (!args.only) {
    const ok = totalSeconds <= TOTAL_BUDGET_S;
    results.push({
      name: 'suite',
      title: 'the whole suite',
      seconds: totalSeconds,
      load1AtStart: mach.loadavgAtStart[0]!,
      hostBusyPct: round(busyPct(suiteCpu0, hostCpu()), 1),
      rows: [
        {
          metric: 'npm run bench: all benchmarks',
          value: totalSeconds,
          unit: 's',
          target: { text: '< 600 s (10 min)', op: '<', value: TOTAL_BUDGET_S },
          met: ok,
        },
      ],
    });
  }
  await mkdir(args.out, { recursive: true });
  const base = join(args.out, args.only ? 'partial' : 'latest');
  await writeFile(`${base}.json`, JSON.stringify(rep, null, 2) + '\n');
  await writeFile(`${base}.md`, renderMarkdown(rep));
  log(`wrote ${base}.md and ${base}.json (total ${totalSeconds} s)`);
  if (!args.only && resolve(args.out) === join(repoRoot, 'bench', 'results')) {
    const readme = join(repoRoot, 'bench', 'README.md');
    const text = await readFile(readme, 'utf8').catch(() => undefined);
    if (text !== undefined) await writeFile(readme, spliceReadme(text, rep));
  }
  if (results.some((r) => r.error)) process.exitCode = 1;
}

main().catch(async (e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  await cleanupAll();
  process.exit(1);
});
