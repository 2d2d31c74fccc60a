// 2. Flagship wall time: `bin/notdns run rollout-syn-flood --fast --variant baseline --variant fix`, exactly as a
// person runs it (both variants, each on a fresh lab), timed from spawn to exit, with its verdict from results.json.
// A failed verdict is run once more (time permitting) to tell a flaky result from a broken one; both runs are reported
// and the output folder of a failed run is kept for a look.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.js';
import { runIdOf } from '../../harness/names.js';
import { listNamespaces } from '../../harness/providers/lab/lab.js';
import { onCleanup, provider } from '../lib/lab.js';
import { median, round } from '../lib/stats.js';
import type { BenchContext, BenchOutput, Benchmark } from '../lib/types.js';

const HARD_LIMIT_S = 200;
const ARGV = ['run', 'rollout-syn-flood', '--fast', '--variant', 'baseline', '--variant', 'fix'];

interface Results {
  runId: string;
  verdict: { pass: boolean; expectations: { pass: boolean; variant: string; label: string; measured: number | null }[] };
  variants: { name: string; startedAt: string; durationSeconds: number; summary: Record<string, number> }[];
  error?: { message: string };
}

interface Attempt {
  wallSeconds: number;
  exitCode: number | undefined;
  pass: boolean;
  expectations: number;
  failed: string[];
  variants: { name: string; durationSeconds: number; summary: Record<string, number> }[];
  /** Output folder, kept when the verdict failed. */
  keptOut?: string;
  error?: string;
}

async function once(ctx: BenchContext): Promise<Attempt> {
  const out = await mkdtemp(join(tmpdir(), 'nd-bench-flagship-'));
  const before = new Set(await listNamespaces());
  const t0 = performance.now();
  // SIGINT on the hard limit: the CLI tears its labs down itself (its interrupt path), SIGKILL 20 s later if not.
  const p = execa(join(repoRoot, 'bin', 'notdns'), [...ARGV, '--out', out, '--quiet'], {
    reject: false,
    timeout: HARD_LIMIT_S * 1000,
    killSignal: 'SIGINT',
    forceKillAfterDelay: 20_000,
    all: true,
    env: { NO_COLOR: '1' },
  });
  const forget = onCleanup(async () => {
    p.kill('SIGINT');
    await p.catch(() => undefined);
  });
  const r = await p.finally(forget);
  const wallSeconds = (performance.now() - t0) / 1000;
  let res: Results | undefined;
  try {
    res = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
  } catch {
    /* reported below */
  }
  // whatever the CLI left (it should leave nothing): namespaces of its run ids (run id prefix + variant byte)
  if (res) {
    const ids = new Set(
      (await listNamespaces())
        .filter((n) => !before.has(n))
        .map(runIdOf)
        .filter((x): x is string => !!x && x.startsWith(res!.runId.slice(0, 4))),
    );
    for (const id of ids) await provider.sweep(id).catch(() => undefined);
  }
  const pass = !!res?.verdict.pass && r.exitCode === 0;
  const failed = res ? res.verdict.expectations.filter((e) => !e.pass).map((f) => `${f.variant}: ${f.label} (measured ${f.measured})`) : [];
  if (pass) await rm(out, { recursive: true, force: true });
  const a: Attempt = {
    wallSeconds,
    exitCode: r.exitCode,
    pass,
    expectations: res?.verdict.expectations.length ?? 0,
    failed,
    variants: res?.variants.map((v) => ({ name: v.name, durationSeconds: v.durationSeconds, summary: v.summary })) ?? [],
    keptOut: pass ? undefined : out,
    error: res
      ? res.error?.message
      : `no results.json (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}): ${String(r.all ?? '').slice(-400)}`,
  };
  ctx.log(
    `  exit ${r.exitCode}, ${round(wallSeconds, 1)} s, verdict ${pass ? 'PASS' : `FAIL${failed.length ? `: ${failed.join('; ')}` : ''}${a.error ? ` (${a.error})` : ''}; output kept in ${out}`}`,
  );
  return a;
}

export const flagship: Benchmark = {
  name: 'flagship',
  title: 'Flagship experiment wall time (rollout-syn-flood --fast, baseline + fix)',
  budgetSeconds: 150,
  async run(ctx): Promise<BenchOutput> {
    ctx.log(`  bin/notdns ${ARGV.join(' ')} --out DIR`);
    const attempts: Attempt[] = [await once(ctx)];
    if (!attempts[0]!.pass && performance.now() < ctx.deadline - 75_000) {
      ctx.log('  verdict failed: running it once more to tell flaky from broken');
      attempts.push(await once(ctx));
    }
    const walls = attempts.map((a) => round(a.wallSeconds, 1));
    const passes = attempts.filter((a) => a.pass).length;
    const all = passes === attempts.length;
    return {
      rows: [
        {
          metric: 'wall time, both variants',
          value: median(walls),
          unit: 's',
          samples: walls.length > 1 ? walls : undefined,
          target: { text: '< 90 s on 2 cores', op: '<', value: 90 },
        },
        {
          metric: 'verdict',
          value: all ? 1 : 0,
          unit: '',
          display: attempts.length === 1 ? (all ? 'pass' : 'FAIL') : `pass in ${passes} of ${attempts.length} runs`,
          target: { text: 'pass (every run)', op: '==', value: 1 },
          note: attempts
            .map(
              (a, i) =>
                `run ${i + 1}: ${a.expectations - a.failed.length}/${a.expectations} expectations hold${a.failed.length ? ` (failed: ${a.failed.join('; ')})` : ''}${a.error ? ` error: ${a.error}` : ''}`,
            )
            .join(' · '),
        },
      ],
      sections: [
        {
          title: 'Per variant and run (seconds the recorder ran; the rest of the wall time is bring-up, ENA attach, deploy and teardown)',
          markdown: [
            '| run | variant | recorded (s) | SYNs to old pod IPs | peak SYN/s | ENA allowance exceeded (flooded nodes) | DNS errors | dig failures |',
            '|---:|---|---:|---:|---:|---:|---:|---:|',
            ...attempts.flatMap((a, i) =>
              a.variants.map(
                (v) =>
                  `| ${i + 1} | ${v.name} | ${round(v.durationSeconds, 1)} | ${v.summary.synToOldPodIpsTotal ?? ''} | ${v.summary.synToOldPodIpsPeakPerSecond ?? ''} | ${v.summary.allowanceExceededFlooded ?? ''} | ${v.summary.dnsErrors ?? ''} | ${v.summary.dnsCheckFailed ?? ''} |`,
              ),
            ),
          ].join('\n'),
        },
      ],
      notes: [
        `Command: \`bin/notdns ${ARGV.join(' ')} --out DIR --quiet\`; exit codes ${attempts.map((a) => a.exitCode).join(', ')}.`,
        ...attempts.filter((a) => a.keptOut).map((a) => `Output of the failed run kept in ${a.keptOut} (results.json, report.html, logs).`),
      ],
      raw: { attempts },
    };
  },
};
