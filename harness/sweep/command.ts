// The `notdns sweep` command (harness/cli.ts declares its options): validate everything, announce the time, run
// the points (run.ts), print the table and write sweep.json and sweep.html, also of the finished points when
// interrupted (exit 130).
import { createOutDir } from '../paths.js';
import { join, resolve } from 'node:path';
import { configureLog } from '../log.js';
import { NotdnsError } from '../errors.js';
import { expandVariant, loadExperiment } from '../spec/load.js';
import { createProvider, requireRoot } from '../providers/index.js';
import { ProgressView } from '../report/progress.js';
import { fmtClock } from '../report/format.js';
import { installSignalHandlers } from '../signals.js';
import { chooseVariant, estimate, expandGrid, parseSets, pointExperiment, settablePaths } from './grid.js';
import { renderSweepTable, runSweep, writeSweep, type Sweep } from './run.js';
import { renderSweepHtml } from './html.js';

export interface SweepCommandOptions {
  variant?: string;
  set?: string[];
  full?: boolean;
  out?: string;
  verbose?: boolean;
  quiet?: boolean;
}

/** What the command borrows from cli.ts: the output-folder error and the time stamp of default folder names. */
export interface SweepCommandDeps {
  outputError(e: unknown, outDir: string, what: string): unknown;
  stamp(): string;
}

/** `notdns sweep --help` after the options: an example, what happens, every settable path (80 columns). */
export function sweepHelp(): string {
  return (
    `\nExample (3×3 = 9 points of about 45 s each on the lab):\n` +
    `  notdns sweep rollout-syn-flood --variant baseline \\\n` +
    `    --set workloads.alertingEngine.reconnect.maxMs=300,1000,5000 \\\n` +
    `    --set workloads.alertingEngine.channelsPerBackend=50,100,200\n\n` +
    `Each point is a fresh run of the variant with its settings merged in, validated\n` +
    `like an experiment file before anything starts; the time the sweep will take\n` +
    `is printed first. Ctrl-C stops it and keeps the finished points (sweep.json\n` +
    `and sweep.html are written, exit 130). Runs on the lab (root). Exit 0 when\n` +
    `every point ran, whatever the points measured.\n\n` +
    `Settable paths:\n${settablePaths()
      .map((p) => `  ${p}`)
      .join('\n')}`
  );
}

export async function sweepCommand(exp: string, o: SweepCommandOptions, { outputError, stamp }: SweepCommandDeps): Promise<void> {
  const { experiment, file } = await loadExperiment(exp);
  // everything that can be refused is refused before anything is created: variant, paths, values, every point
  const dimensions = parseSets(o.set ?? []);
  const variant = chooseVariant(experiment, o.variant);
  const fast = !o.full;
  const points = expandGrid(dimensions).map((settings) => ({
    settings,
    experiment: pointExperiment(experiment, file, variant, settings),
  }));
  const est = estimate(
    points.map((p) => p.experiment),
    variant,
    { fast },
  );
  requireRoot('notdns sweep');
  const provider = await createProvider('lab', {});
  await provider.preflight(points.map((p) => expandVariant(p.experiment, variant).topology));
  const outDir = resolve(o.out ?? join('notdns-out', `sweep-${experiment.name}-${stamp()}`));
  await createOutDir(outDir);
  configureLog({ verbose: o.verbose, file: join(outDir, 'notdns.log') });
  const progress = new ProgressView({ quiet: o.quiet });
  process.stderr.write(
    `sweep ${experiment.name} --variant ${variant}: ${points.length} points (${dimensions.map((d) => d.values.length).join('×')}), ${fast ? 'fast' : 'normal'} profile; ` +
      `it will take about ${fmtClock(est.totalSeconds)} (planned steps ${fmtClock(est.planned.reduce((a, b) => a + b, 0))} + ${est.overheadPerPoint}s per point to bring the lab up and down)\n`,
  );
  const ctl = installSignalHandlers(progress, provider);
  const write = async (s: Sweep) =>
    writeSweep(s, outDir, renderSweepHtml).catch((e: unknown) => {
      throw outputError(e, outDir, 'sweep.json and sweep.html');
    });
  try {
    let sweep: Sweep;
    try {
      sweep = await runSweep({
        experiment,
        file,
        variant,
        dimensions,
        points,
        estimate: est,
        provider,
        fast,
        outDir,
        progress,
        signal: ctl.signal,
      });
    } catch (e) {
      const partial = (e as { sweep?: Sweep }).sweep;
      if (partial) {
        const files = await write(partial);
        process.stdout.write(`${renderSweepTable(partial)}\nsweep:  ${files.json}\nreport: ${files.html}\n`);
      }
      throw e;
    }
    const files = await write(sweep);
    process.stdout.write(`${renderSweepTable(sweep)}\nsweep:  ${files.json}\nreport: ${files.html}\n`);
    if (ctl.signal.aborted)
      throw new NotdnsError(`the sweep was interrupted after its last point; the results were written to ${outDir}.`, {
        kind: 'interrupted',
      });
  } catch (e) {
    throw ctl.crash ?? e;
  } finally {
    ctl.dispose();
  }
}
