#!/usr/bin/env node
// notdns — reproduce "It wasn't DNS" (gRPC reconnect SYN floods → rp_filter martians → ENA conntrack allowance
// → node-local DNS errors) and prove fixes. See README.md.
import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { configureLog, log } from './log.js';
import { formatError, NotdnsError } from './errors.js';
import { expandVariant, listExperiments, loadExperiment } from './spec/load.js';
import { runExperiment, selectVariants } from './run/index.js';
import { doctorChecks, DOCTOR_OK, renderChecks } from './doctor.js';
import { LabProvider } from './providers/lab/lab.js';
import type { ProviderName } from './providers/types.js';
import { createProvider, PROVIDER_NAMES, requireRoot } from './providers/index.js';
import { assertSomethingApplies, planOf, renderPlan } from './plan.js';
import { ProgressView } from './report/progress.js';
import { renderVerdict } from './report/terminal.js';
import { writeReports, loadResults } from './report/index.js';
import { compareResults, compareExitCode, renderComparison } from './report/compare.js';
import { resultsJsonSchema, type Results } from './results.js';
import { newRunId } from './names.js';
import { createOutDir, stateRoot } from './paths.js';
import { EXIT_STOPPED, findRunning, requestStop } from './stop.js';
import { installSignalHandlers } from './signals.js';
import { keepLongProcessesAfterExit } from './exec.js';
import { outputColumns, tolerateClosedOutput, twoColumns, wrapText } from './stdio.js';
import { closestName } from './suggest.js';
import { MetricsExporter, parseListen } from './metrics-export.js';
import { resolvePrometheusUrl } from './probes/prometheus.js';
import { loadSweep, renderSweepTable, writeSweep } from './sweep/run.js';
import { renderSweepHtml } from './sweep/html.js';
import { sweepCommand, sweepHelp, type SweepCommandOptions } from './sweep/command.js';

// before anything writes: output into a reader that went away (`| head`) must not end in a stack trace
tolerateClosedOutput();

/** Help reads well in a wide terminal too: lines of at most 100 columns (80 when stdout is not a terminal). */
const HELP_WIDTH = Math.min(outputColumns(), 100);

const EXAMPLES: [string, string][] = [
  ['notdns doctor', 'is this machine ready for the lab? (prints the apt-get command for what is missing)'],
  ['notdns doctor --provider kind', 'the same for --provider kind (docker, kind, helm or the cilium CLI)'],
  ['notdns list', 'the built-in experiments and their variants'],
  ['notdns plan rollout-syn-flood --provider kind', 'what a run would create there, and which expectations are n/a (why)'],
  ['notdns run rollout-syn-flood', 'every variant on the lab, verdict table, results in ./notdns-out/'],
  ['notdns run rollout-syn-flood --fast --variant baseline', 'one variant, every duration shortened'],
  ['notdns report notdns-out/rollout-syn-flood/results.json', 'the verdict of a saved run, its reports re-rendered'],
  ['notdns compare last-night/results.json tonight/results.json', 'what changed between two runs'],
  ['notdns sweep --help', 'one variant over a grid of settings, a heat map per outcome: an example'],
  ['notdns stop 1a2b10', 'from another terminal: remove the fault of that run now, then tear it down (exit 4)'],
  ['notdns down --all', 'remove anything a killed run left behind'],
];
const EXIT_CODES: [string, string][] = [
  ['0', 'all expectations passed'],
  ['1', 'an expectation failed (a verdict)'],
  ['2', 'bad input or environment'],
  ['3', 'the harness failed (not a verdict)'],
  ['4', 'stopped: a stop condition (abort:) tripped, or `notdns stop`; the fault was removed first'],
  ['130', 'interrupted'],
];

const program = new Command('notdns')
  .description(
    'Chaos-testing harness for the "It wasn\'t DNS" incident: gRPC clients SYN-flood old pod IPs during a rollout, ' +
      'the node drops the SYNs as martians (rp_filter edge case), the ENA conntrack allowance fills up, and node-local DNS ' +
      'cannot reach its upstream. notdns builds a cluster (lab = network namespaces, kind, or an existing one), runs the ' +
      "workloads, rolls them out, measures, and checks the experiment's expectations.",
  )
  .version('0.1.0')
  .configureHelp({ helpWidth: HELP_WIDTH })
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride() // before the commands, which inherit it: their usage errors exit 2 too (see main)
  .addHelpText('after', () => `\nExamples:\n${twoColumns(EXAMPLES, HELP_WIDTH)}\n\nExit codes:\n${twoColumns(EXIT_CODES, HELP_WIDTH)}`);

/** A failed write into the output folder (disk full, read-only, permissions) as one paragraph with the path and the fix. */
function outputError(e: unknown, outDir: string, what: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'the file system is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EIO: 'I/O error',
  };
  if (!err?.code || !why[err.code]) return e;
  const full = err.code === 'ENOSPC' || err.code === 'EDQUOT';
  return new NotdnsError(
    `could not write ${what} to the output folder ${outDir}${err.path && err.path !== outDir ? ` (${err.path})` : ''}: ${why[err.code]} (${err.code}). The lab was already torn down.`,
    {
      kind: 'harness',
      phase: 'report',
      cause: e,
      hint: full
        ? `Free space on the file system of ${outDir} (see \`df -h ${outDir}\`) or pass --out <a folder with room>, and run again.`
        : `Pass --out <a folder you can write to>, and run again.`,
    },
  );
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

program
  .command('run')
  .description('run an experiment (all its variants unless --variant), print the verdict, write results.json, junit.xml, report.html')
  .argument('<experiment>', 'a built-in experiment name (see `notdns list`) or a path to a .yaml/.json/.ts experiment file')
  .option('--variant <name...>', 'run only these variants (repeatable)')
  .option('--out <dir>', 'output folder (default: ./notdns-out/<experiment>-<time>)')
  .addOption(new Option('--provider <name>', 'where to run').choices(['lab', 'kind', 'kubeconfig']).default('lab'))
  .option('--fast', "the fast profile: every duration scaled by the experiment's fastTimeScale (same verdicts, shorter run)")
  .option('--context <name>', 'kubeconfig context (provider kubeconfig)')
  .option('--i-know-this-is-not-a-test-cluster', 'required by --provider kubeconfig: notdns floods and rolls out workloads')
  .option(
    '--pod-cidr <cidr>',
    'the pod network of an existing cluster when its nodes do not say it (ENI IPAM): the load generator targets nothing else',
  )
  .addOption(
    new Option(
      '--ena-simulator <mode>',
      "provider kubeconfig: off = read the nodes' real ENA counters (ethtool -S), attach nothing (default); count = also the simulator, counting only; enforce = the simulator as on kind",
    ).choices(['off', 'count', 'enforce']),
  )
  .option(
    '--metrics-listen <addr>',
    'serve every live series as Prometheus text on HOST:PORT while the run is on (IP literal; :0 = a free loopback port, printed); docs/prometheus.md',
  )
  .option('--prometheus-url <url>', "the Prometheus server of the experiment's promql expectations (overrides prometheus.url)")
  .option('-v, --verbose', 'print every command and debug logs (they are always saved to <out>/notdns.log)')
  .option('-q, --quiet', 'print only failures and the verdict')
  .action(
    async (
      exp: string,
      o: {
        metricsListen?: string;
        prometheusUrl?: string;
        variant?: string[];
        out?: string;
        provider: ProviderName;
        fast?: boolean;
        verbose?: boolean;
        quiet?: boolean;
        context?: string;
        iKnowThisIsNotATestCluster?: boolean;
        podCidr?: string;
        enaSimulator?: string;
      },
    ) => {
      const { experiment, file } = await loadExperiment(exp);
      // everything that can be refused is refused before anything is created (output folder, log, lab)
      const variants = selectVariants(experiment, o.variant);
      const plan = planOf(experiment, o.provider, { variants, fast: o.fast });
      assertSomethingApplies(plan);
      const listen = o.metricsListen !== undefined ? parseListen(o.metricsListen) : undefined;
      const prometheusUrl = resolvePrometheusUrl(experiment, o.prometheusUrl);
      const provider = await createProvider(o.provider, {
        iKnowThisIsNotATestCluster: o.iKnowThisIsNotATestCluster,
        context: o.context,
        podCidr: o.podCidr,
        enaSimulator: o.enaSimulator,
      });
      await provider.preflight(variants.map((v) => expandVariant(experiment, v).topology));
      const outDir = resolve(o.out ?? join('notdns-out', `${experiment.name}-${stamp()}`));
      await createOutDir(outDir);
      configureLog({ verbose: o.verbose, file: join(outDir, 'notdns.log') });
      const progress = new ProgressView({ quiet: o.quiet });
      for (const l of renderPlan(plan, { brief: true }).split('\n')) progress.log(l);
      const ctl = installSignalHandlers(progress, provider);
      const metrics = listen ? new MetricsExporter({ experiment: experiment.name }) : undefined;
      try {
        if (metrics && listen) {
          const at = await metrics.listen(listen);
          progress.log(
            `metrics: http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics (Prometheus text, while the run is on)`,
          );
        }
        let results: Results;
        try {
          results = await runExperiment({
            experiment,
            file,
            provider,
            variants,
            fast: o.fast,
            outDir,
            progress,
            signal: ctl.signal,
            metrics,
            prometheusUrl,
          });
        } catch (e) {
          const partial = (e as { partial?: Parameters<typeof writeReports>[0] }).partial;
          if (partial) await writeReports(partial, outDir).catch(() => undefined);
          throw e;
        }
        const files = await writeReports(results, outDir).catch((e: unknown) => {
          throw outputError(e, outDir, 'the reports');
        });
        // a signal that came once the last variant was measured (during its teardown, or while writing) still means
        // "interrupted": exit 130, never a verdict the user did not wait for
        if (ctl.signal.aborted) {
          throw new NotdnsError(
            `the run was interrupted after its measurements were complete; teardown finished and the results were written to ${outDir}.`,
            {
              kind: 'interrupted',
              hint: `\`notdns report ${files.json}\` shows the verdict.`,
            },
          );
        }
        process.stdout.write(renderVerdict(results, { color: process.stdout.isTTY }) + '\n');
        process.stdout.write(`results: ${files.json}\njunit:   ${files.junit}\nreport:  ${files.html}\n`);
        const stopped = results.variants.some((v) => v.stopped); // renderVerdict says which, when and why
        process.exitCode = stopped ? EXIT_STOPPED : results.verdict.pass ? 0 : 1;
      } catch (e) {
        throw ctl.crash ?? e; // an internal error aborted the run: report it (exit 3), not "interrupted"
      } finally {
        await metrics?.close();
        ctl.dispose();
      }
    },
  );

program
  .command('sweep')
  .description(
    'run one variant of an experiment over a grid of settings (the cartesian product of the --set values), fast profile by default; print the outcome per point, write sweep.json and sweep.html (heat maps)',
  )
  .argument('<experiment>', 'a built-in experiment name or a path to an experiment file')
  .option('--variant <name>', 'the variant to sweep (required when the experiment has several)')
  .option(
    '--set <path=v1,v2,...>',
    'a dotted path into the variant configuration and the values to try (repeatable; the first is the heat map rows, the second its columns)',
    (v: string, acc: string[] | undefined) => [...(acc ?? []), v],
  )
  .option('--full', 'the normal profile (default: --fast, every duration scaled by the experiment fastTimeScale)')
  .option('--out <dir>', 'output folder (default: ./notdns-out/sweep-<experiment>-<time>)')
  .option('-v, --verbose', 'print every command and debug logs (they are always saved to <out>/notdns.log)')
  .option('-q, --quiet', 'print only failures and the table')
  .addHelpText('after', sweepHelp)
  .action((exp: string, o: SweepCommandOptions) => sweepCommand(exp, o, { outputError, stamp }));

program
  .command('plan')
  .description('show what a run would create on a provider and which expectations apply there (n/a ones with the reason); creates nothing')
  .argument('<experiment>', 'a built-in experiment name or a path to an experiment file')
  .addOption(new Option('--provider <name>', 'where it would run').choices([...PROVIDER_NAMES]).default('lab'))
  .option('--variant <name...>', 'only these variants')
  .option('--fast', 'the fast profile')
  .action(async (exp: string, o: { provider: ProviderName; variant?: string[]; fast?: boolean }) => {
    const { experiment } = await loadExperiment(exp);
    const p = planOf(experiment, o.provider, { variants: selectVariants(experiment, o.variant), fast: o.fast });
    process.stdout.write(renderPlan(p) + '\n');
    assertSomethingApplies(p);
  });

program
  .command('list')
  .description('list the built-in experiments with their variants')
  .action(async () => {
    const width = outputColumns();
    for (const x of await listExperiments()) {
      try {
        const { experiment } = await loadExperiment(x.file);
        const variants = Object.entries(experiment.variants).map(([k, v]) => [k, v.description] as [string, string]);
        process.stdout.write(
          `${experiment.name}\n${wrapText(experiment.description, width, '  ')}\n  variants:\n${twoColumns(variants, width, { indent: '    ' })}\n\n`,
        );
      } catch (e) {
        process.stdout.write(`${x.name}  (invalid: ${(e as Error).message.split('\n')[0]})\n`);
      }
    }
  });

program
  .command('validate')
  .description('check an experiment file without running it')
  .argument('<experiment>', 'name or path')
  .action(async (exp: string) => {
    const { experiment, file } = await loadExperiment(exp);
    process.stdout.write(
      `${file}: valid (${Object.keys(experiment.variants).length} variants, ${Object.values(experiment.expect).flat().length + experiment.compare.length} expectations)\n`,
    );
  });

program
  .command('up')
  .description('bring up a lab cluster and leave it running (for poking around; `notdns down <run-id>` removes it)')
  .option('--nodes <n>', 'nodes', (v) => parseInt(v, 10), 3)
  .option('--server-nodes <n>', 'nodes that host the Metrics Service', (v) => parseInt(v, 10), 2)
  .option('--eni-has-address', 'give ens6 an unrelated /32 (no martians)')
  .action(async (o: { nodes: number; serverNodes: number; eniHasAddress?: boolean }) => {
    requireRoot('notdns up');
    if (!(o.nodes >= 2 && o.nodes <= 20) || !(o.serverNodes >= 1 && o.serverNodes < o.nodes)) {
      throw new NotdnsError(`--nodes must be 2..20 and --server-nodes 1..nodes-1 (got ${o.nodes}, ${o.serverNodes})`, {
        kind: 'usage',
        hint: 'e.g. notdns up --nodes 3 --server-nodes 2',
      });
    }
    const runId = newRunId();
    keepLongProcessesAfterExit();
    const c = await new LabProvider().up(
      { nodes: o.nodes, serverNodes: o.serverNodes, eniHasAddress: !!o.eniHasAddress, unreachableOnDelete: false, nodeLocalDns: true },
      runId,
      { stateDir: join(stateRoot, runId), onProgress: (l) => process.stderr.write(`${l}\n`) },
    );
    process.stdout.write(
      `lab ${runId} is up: ${c.nodes.map((n) => `${n.name}=${n.netns} (${n.ip})`).join(', ')}\n` +
        `try: ip netns exec ${c.nodes[0]!.netns} dig @${c.dns.nodeLocal} x.default.svc.cluster.local\n` +
        `remove it with: notdns down ${runId}\n`,
    );
    process.exit(0); // leave everything running (daemons are in the lab's namespaces)
  });

program
  .command('down')
  .description('remove a lab left running by `up` or by a killed run (namespaces, processes, bpf pins, state)')
  .argument('[run-id]', 'the run id (6 hex digits) to remove')
  .option('--all', 'remove every notdns lab whose harness is no longer running (names nd-*), and kind clusters named nd-*')
  .option('--force', 'also remove labs of runs that are still running (their harness then fails)')
  .action(async (runId: string | undefined, o: { all?: boolean; force?: boolean }) => {
    requireRoot('notdns down');
    if (!runId && !o.all)
      throw new NotdnsError('say which run to remove, or --all.', { kind: 'usage', hint: 'notdns down <run-id>, or notdns down --all' });
    if (runId && !/^[0-9a-f]{6}$/.test(runId))
      throw new NotdnsError(`"${runId}" is not a run id (6 hex digits, as in the namespace names nd-<run-id>-...)`, {
        kind: 'usage',
        hint: 'See `ip netns list` for names like nd-1a2b3c-node1.',
      });
    const { removed, live } = await new LabProvider().sweep(o.all ? undefined : runId, { force: o.force });
    const owner = runId && !o.all ? live.find((l) => l.runId === runId) : undefined;
    if (owner) {
      throw new NotdnsError(
        `run ${runId} is still running (harness pid ${owner.pid}); removing its lab now would pull it out from under that run. Nothing was removed.`,
        {
          kind: 'usage',
          hint: `Stop that run with Ctrl-C (it tears its lab down itself), or add --force: notdns down ${runId} --force.`,
        },
      );
    }
    if (o.all) {
      try {
        const kind = await import('./providers/kind/index.js');
        removed.push(...(await kind.createKindProvider({}).sweep()).removed);
      } catch (e) {
        log.debug({ err: e }, 'kind sweep skipped');
      }
    }
    const skipped = live.map((l) => `(skipped run ${l.runId}: its harness, pid ${l.pid}, is still running; use --force)`);
    process.stdout.write(
      removed.length || skipped.length ? `removed:\n  ${[...removed, ...skipped].join('\n  ')}\n` : 'nothing to remove\n',
    );
  });

program
  .command('stop')
  .description(
    'stop a running run from another terminal, as a tripped stop condition does: its fault is removed first (load generators stopped, ENA simulator detached), then it tears down and exits 4',
  )
  .argument('<run-id>', 'the id of the run (printed at its start: "run <id>"), or of one of its variants (nd-<id>-*)')
  .action(async (id: string) => {
    if (!/^[0-9a-f]{6}$/.test(id))
      throw new NotdnsError(`"${id}" is not a run id (6 hex digits)`, {
        kind: 'usage',
        hint: 'The run prints "run <id>, resources nd-<id>-*" when it starts.',
      });
    const targets = await findRunning(stateRoot, id);
    if (!targets.length) {
      throw new NotdnsError(`no running notdns harness has run or variant id ${id} on this host.`, {
        kind: 'usage',
        hint: 'It may have finished already; `notdns down --all` removes what a killed run left behind.',
      });
    }
    for (const t of targets) {
      await requestStop(t, `notdns stop from pid ${process.pid}`);
      process.stdout.write(
        `asked harness pid ${t.pid} to stop variant ${t.variant} (run ${t.runId}, resources nd-${t.vid}-*): it removes the fault, tears down and exits ${EXIT_STOPPED}\n`,
      );
    }
  });

program
  .command('doctor')
  .description('is this machine ready for a provider? checks what that provider needs, and only that, and says how to fix what is missing')
  .addOption(
    new Option(
      '--provider <name>',
      'lab: root, kernel features, Debian packages; kind: docker, kind, helm or the cilium CLI, image registries; kubeconfig: the kubeconfig, its context, the API server, NOTDNS_WORKLOAD_IMAGE',
    )
      .choices(['lab', 'kind', 'kubeconfig'])
      .default('lab'),
  )
  .option('--context <name>', 'kubeconfig context (provider kubeconfig)')
  .action(async (o: { provider: ProviderName; context?: string }) => {
    const checks = await doctorChecks(o.provider, { context: o.context });
    process.stdout.write(renderChecks(checks) + '\n');
    const bad = checks.filter((c) => !c.ok && !c.optional);
    const install = checks.find((c) => c.check === 'install command')?.detail;
    process.stdout.write(
      bad.length
        ? `\n${bad.length} problem(s). ` + (install ? `Install the missing packages with:\n  ${install}\n` : '\n')
        : `\n${DOCTOR_OK[o.provider]}\n`,
    );
    process.exitCode = bad.length ? 2 : 0;
  });

program
  .command('report')
  .description(
    're-render junit.xml and report.html (and the verdict) from a saved results.json, or sweep.html (and the table) from a sweep.json',
  )
  .argument('<results.json>', 'a results.json, or a sweep.json of `notdns sweep`')
  .option('--out <dir>', 'where to write (default: next to results.json)')
  .action(async (file: string, o: { out?: string }) => {
    if (/"kind":\s*"notdns-sweep"/.test((await readFile(file, 'utf8').catch(() => '')).slice(0, 200))) {
      // a sweep.json: its table and sweep.html re-rendered
      const sweep = await loadSweep(file);
      const files = await writeSweep(sweep, resolve(o.out ?? join(file, '..')), renderSweepHtml);
      process.stdout.write(`${renderSweepTable(sweep)}\nreport: ${files.html}\n`);
      return;
    }
    const results = await loadResults(file);
    const files = await writeReports(results, resolve(o.out ?? join(file, '..')));
    process.stdout.write(renderVerdict(results, { color: process.stdout.isTTY }) + `\nreport: ${files.html}\njunit:  ${files.junit}\n`);
  });

program
  .command('compare')
  .description('show what changed between two runs (exit 1 when an expectation that passed in A fails in B)')
  .argument('<a.json>')
  .argument('<b.json>')
  .option('--all', 'also list the expectations that passed in both runs and the numbers that moved less than 1%')
  .action(async (a: string, b: string, o: { all?: boolean }) => {
    const c = compareResults(await loadResults(a), await loadResults(b));
    process.stdout.write(renderComparison(c, { color: process.stdout.isTTY, all: o.all }) + '\n');
    process.exitCode = compareExitCode(c);
  });

program
  .command('schema')
  .description('print the JSON Schema of results.json')
  .action(async () => {
    process.stdout.write(JSON.stringify(resultsJsonSchema(), null, 2) + '\n');
  });

/** Commands people reach for under another name. */
const COMMAND_SYNONYMS: Record<string, string> = {
  clean: 'down',
  cleanup: 'down',
  teardown: 'down',
  ls: 'list',
  check: 'doctor',
};

/**
 * Refuse an unknown command (`notdns frobnicate`, also with --help, and `notdns help frobnicate`) with exit 2
 * and the nearest command, before commander would print the main help for it and exit 0.
 */
function checkCommand(args: readonly string[]): void {
  const operands = args.filter((a) => !a.startsWith('-')); // the top level has no option that takes a value
  const name = operands[0] === 'help' ? operands[1] : operands[0];
  if (name === undefined) return;
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (names.includes(name) || name === 'help') return;
  const near = closestName(name, names) ?? COMMAND_SYNONYMS[name.toLowerCase()];
  throw new NotdnsError(`unknown command "${name}".`, {
    kind: 'usage',
    hint: `${near ? `Did you mean \`notdns ${near}\`? ` : ''}The commands are: ${program.commands.map((c) => c.name()).join(', ')} (\`notdns --help\` describes them).`,
  });
}

async function main(): Promise<void> {
  try {
    checkCommand(process.argv.slice(2));
    await program.parseAsync(process.argv);
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      process.exitCode = ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' || ce.code === 'commander.help' ? 0 : 2;
      return;
    }
    const verbose = process.argv.includes('-v') || process.argv.includes('--verbose');
    process.stderr.write(formatError(e, verbose) + '\n');
    const kind = (e as NotdnsError).kind;
    process.exitCode = kind === 'interrupted' ? 130 : kind === 'spec' || kind === 'usage' || kind === 'environment' ? 2 : 3;
  }
}

await main();
