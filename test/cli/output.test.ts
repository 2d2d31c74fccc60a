// What the CLI prints: into a reader that closes early (`| head -1`, `grep -q`, a quit pager) it ends quietly with
// its own exit code; help reads well at 80 columns (a pipe) and in a wide terminal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clone, makeResults } from '../report/helpers.js';
import { listExperiments, loadExperiment } from '../../harness/spec/load.js';
import { twoColumns, wrapText } from '../../harness/stdio.js';
import { assertNoStack, CLI, notdns, notdnsIntoHead } from './helpers.js';

const COMMANDS = ['run', 'list', 'validate', 'up', 'down', 'doctor', 'report', 'compare', 'schema'];

/** The lines of a paragraph wrapped once, greedily: no line would have had room for the next line's first word. */
function assertFilled(lines: string[], width: number): void {
  for (let i = 0; i + 1 < lines.length; i++) {
    const next = lines[i + 1]!.trim().split(' ')[0]!;
    assert.ok(lines[i]!.length + 1 + next.length > width, `line ${i + 1} breaks early (room for "${next}"):\n${lines.join('\n')}`);
  }
}

describe('cli: output into a closed pipe, and its width', function () {
  this.timeout(120_000);
  let dir: string;
  let a: string, b: string, regressed: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'notdns-cli-'));
    a = join(dir, 'a', 'results.json');
    b = join(dir, 'b', 'results.json');
    regressed = join(dir, 'r', 'results.json');
    const ra = makeResults({ seed: 1 }),
      rb = makeResults({ seed: 2 });
    const rr = clone(ra);
    const e = rr.verdict.expectations.find((x) => x.pass)!;
    e.pass = false;
    rr.verdict.pass = false;
    for (const [f, r] of [
      [a, ra],
      [b, rb],
      [regressed, rr],
    ] as const) {
      await mkdir(join(f, '..'), { recursive: true });
      await writeFile(f, JSON.stringify(r));
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, () => string[], number][] = [
    ['--help', () => ['--help'], 0],
    ['run --help', () => ['run', '--help'], 0],
    ['list', () => ['list'], 0],
    ['schema', () => ['schema'], 0],
    ['compare (no regression)', () => ['compare', a, b], 0],
    ['compare (a regression: exit 1)', () => ['compare', a, regressed], 1],
    ['report (the verdict of a saved run)', () => ['report', a], 0],
  ];
  for (const [what, args, code] of cases) {
    it(`${what} | head -1: exit ${code}, nothing on stderr`, async () => {
      for (const at of ['line', 'start'] as const) {
        const r = await notdnsIntoHead(args(), { at, cwd: dir });
        assertNoStack(r.stderr);
        assert.equal(r.stderr, '', `${at}: stderr`);
        assert.equal(r.signal, null, `${at}: signal`);
        assert.equal(r.code, code, `${at}: exit code`);
        if (at === 'line') assert.ok(r.line.length > 0, 'the reader got its line');
      }
    });
  }

  it("the same output without the early reader is complete (the verdict of report, compare's last line)", () => {
    const rep = notdns(['report', a], { cwd: dir });
    assert.equal(rep.code, 0, rep.stderr);
    assert.match(rep.stdout, /report: .*report\.html/);
    const cmp = notdns(['compare', a, regressed], { cwd: dir });
    assert.equal(cmp.code, 1);
    assert.match(cmp.stdout, /1 regression: /);
  });

  it('--help at 80 columns: the description is one paragraph wrapped once, every line fits', () => {
    const r = notdns(['--help']);
    assert.equal(r.code, 0);
    const lines = r.stdout.split('\n');
    for (const l of lines) assert.ok(l.length <= 80, `longer than 80 columns: "${l}"`);
    const start = lines.findIndex((l) => l.startsWith('Chaos-testing harness'));
    const end = lines.indexOf('', start);
    const para = lines.slice(start, end);
    assert.ok(para.length >= 3, r.stdout);
    assertFilled(para, 80);
    assert.match(
      para.join(' '),
      /the node drops the SYNs as martians \(rp_filter edge case\), the ENA conntrack allowance fills up, and node-local DNS cannot reach its upstream\./,
    );
    assert.match(r.stdout, /\nExamples:\n {2}notdns doctor {2,}is this machine ready/);
    assert.match(r.stdout, /\nExit codes:\n {2}0 {4}all expectations passed\n/);
  });

  it("every command's --help fits in 80 columns", () => {
    for (const c of COMMANDS) {
      const r = notdns([c, '--help']);
      assert.equal(r.code, 0, `${c}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: notdns ${c} `));
      for (const l of r.stdout.split('\n')) assert.ok(l.length <= 80, `${c} --help: longer than 80 columns: "${l}"`);
    }
  });

  it('--help in a wide terminal uses the room, up to 100 columns', function () {
    if (spawnSync('script', ['--version']).status !== 0) this.skip();
    const r = spawnSync('script', ['-qec', `stty cols 200 rows 50; exec ${CLI} --help`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.replace(/\r/g, '').split('\n');
    const widest = Math.max(...lines.map((l) => l.length));
    assert.ok(widest > 80 && widest <= 100, `widest line ${widest}:\n${r.stdout}`);
    const start = lines.findIndex((l) => l.startsWith('Chaos-testing harness'));
    assertFilled(lines.slice(start, lines.indexOf('', start)), 100);
  });

  it('list: one variant per line, descriptions wrapped to 80 columns in a pipe', async () => {
    const r = notdns(['list']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    for (const l of lines) assert.ok(l.length <= 80, `longer than 80 columns: "${l}"`);
    for (const x of await listExperiments()) {
      const { experiment } = await loadExperiment(x.file);
      const at = lines.indexOf(experiment.name);
      assert.ok(at >= 0, `${experiment.name} has a line of its own:\n${r.stdout}`);
      const desc = lines.slice(at + 1, lines.indexOf('  variants:', at));
      assert.equal(desc.map((l) => l.trim()).join(' '), experiment.description.replace(/\s+/g, ' '));
      assertFilled(desc, 80);
      for (const [name, v] of Object.entries(experiment.variants)) {
        const row = lines.findIndex((l, i) => i > at && new RegExp(`^ {4}${name} {2,}\\S`).test(l));
        assert.ok(row > at, `variant ${name} starts a line:\n${r.stdout}`);
        assert.ok(lines[row]!.includes(v.description.split(' ')[0]!), `${name}: its description follows on the same line`);
      }
    }
  });

  it('wrapText and twoColumns wrap once, at any width', () => {
    const text =
      'gRPC reconnect backoff of 300 ms SYN-floods old pod IPs during a rollout, exhausts the ENA conntrack allowance and breaks node-local DNS';
    for (const w of [40, 80, 160]) {
      const lines = wrapText(text, w, '  ').split('\n');
      assert.ok(
        lines.every((l) => l.length <= w && l.startsWith('  ')),
        `${w}`,
      );
      assertFilled(lines, w);
      assert.equal(lines.map((l) => l.trim()).join(' '), text);
    }
    const t = twoColumns(
      [
        ['short', text],
        ['a-term-longer-than-the-column-allows-here', 'its description'],
      ],
      80,
    ).split('\n');
    assert.ok(
      t.every((l) => l.length <= 80),
      t.join('\n'),
    );
    assert.match(t[0]!, /^ {2}short {2}gRPC/);
    assert.equal(t.at(-2), '  a-term-longer-than-the-column-allows-here');
    assert.match(t.at(-1)!, /^ +its description$/);
  });
});
