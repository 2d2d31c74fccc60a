import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ProgressView, formatCounters, formatTiming, type ProgressStream } from '../../harness/report/progress.js';
import { stripAnsi } from '../../harness/report/ansi.js';

class FakeStream extends Writable implements ProgressStream {
  out = '';
  isTTY: boolean;
  columns = 100;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.out += chunk.toString();
    cb();
  }
  // What a tty.WriteStream offers and ora uses.
  cursorTo(x: number): boolean {
    this.out += `\u001b[${x + 1}G`;
    return true;
  }
  moveCursor(_dx: number, dy: number): boolean {
    this.out += dy < 0 ? `\u001b[${-dy}A` : '';
    return true;
  }
  clearLine(): boolean {
    this.out += '\u001b[2K';
    return true;
  }
  get text(): string {
    return stripAnsi(this.out);
  }
}

function clock(): { now: () => number; advance: (s: number) => void } {
  let t = 1_700_000_000_000;
  return {
    now: () => t,
    advance: (s) => {
      t += s * 1000;
    },
  };
}

describe('report: progress view', () => {
  it('formats counters and timing compactly', () => {
    assert.equal(
      formatCounters({ 'SYN/s': 12_345, exceeded: 4_500, 'dns err': 12, state: 'flooding' }),
      'SYN/s 12.3k  exceeded 4,500  dns err 12  state flooding',
    );
    assert.equal(formatTiming(42, 60), '42s / 1:00, 18s left');
    assert.equal(formatTiming(75, 60), '1:15 / 1:00, overtime');
    assert.equal(formatTiming(75), '1:15');
  });

  it('plain mode (CI): one line per finished phase, log lines as they come, no escape codes', () => {
    const s = new FakeStream(false),
      c = clock();
    const p = new ProgressView({ stream: s, now: c.now });
    assert.equal(p.mode, 'plain');
    p.start('baseline: rollout', { totalSeconds: 60 });
    p.update({ 'SYN/s': 12_300 });
    p.log('  pod metrics-service-abc stopping');
    c.advance(62);
    p.update({ 'SYN/s': 12_300, exceeded: 4_500 });
    p.done('3 pods replaced');
    p.start('baseline: observe');
    c.advance(5);
    p.fail('probe died');
    const lines = s.out.trimEnd().split('\n');
    assert.ok(!/\u001b\[/.test(s.out));
    assert.equal(lines[0], '  pod metrics-service-abc stopping');
    assert.equal(lines[1], '… baseline: rollout  1:02 / 1:00, overtime  SYN/s 12.3k  exceeded 4,500', 'heartbeat after 60 s');
    assert.equal(lines[2], '✔ baseline: rollout  1:02  SYN/s 12.3k  exceeded 4,500 — 3 pods replaced');
    assert.equal(lines[3], '✖ baseline: observe failed after 5s: probe died');
    assert.equal(lines.length, 4);
  });

  it('start() ends the previous phase', () => {
    const s = new FakeStream(false),
      c = clock();
    const p = new ProgressView({ stream: s, now: c.now, heartbeatSeconds: 0 });
    p.start('up');
    c.advance(3);
    p.start('deploy');
    c.advance(1);
    p.done();
    assert.deepEqual(s.out.trimEnd().split('\n'), ['✔ up  3s', '✔ deploy  1s']);
  });

  it('quiet prints failures only', () => {
    const s = new FakeStream(true),
      c = clock();
    const p = new ProgressView({ stream: s, now: c.now, quiet: true });
    p.start('up');
    p.update({ x: 1 });
    p.log('hello');
    p.done();
    assert.equal(s.out, '');
    p.start('deploy');
    p.fail('boom');
    assert.equal(s.out, '✖ deploy failed after 0s: boom\n');
  });

  it('live mode on a TTY: a spinner line with phase, time left and counters; logs above it', () => {
    const s = new FakeStream(true),
      c = clock();
    const p = new ProgressView({ stream: s, now: c.now, interactive: true, color: false });
    assert.equal(p.mode, 'live');
    p.start('fix: rollout', { totalSeconds: 60 });
    c.advance(42);
    p.update({ 'SYN/s': 12_300, exceeded: 4_500, 'dns err': 12 });
    p.log('pod replaced');
    p.done('ok');
    const text = s.text;
    assert.match(text, /fix: rollout {2}42s \/ 1:00, 18s left {2}SYN\/s 12\.3k {2}exceeded 4,500 {2}dns err 12/);
    assert.ok(text.includes('pod replaced\n'));
    assert.match(text, /fix: rollout {2}42s {2}SYN\/s 12\.3k {2}exceeded 4,500 {2}dns err 12 — ok\n$/);
    assert.ok(/\u001b\[/.test(s.out), 'redraws in place');
  });

  it('live mode keeps the line within the terminal width', () => {
    const s = new FakeStream(true),
      c = clock();
    s.columns = 40;
    const p = new ProgressView({ stream: s, now: c.now, interactive: true, color: false });
    p.start('a phase with a rather long name', { totalSeconds: 600 });
    p.update({ 'SYN/s': 12_300, exceeded: 4_500, 'dns err': 12 });
    p.stop();
    const longest = Math.max(...s.out.split(/\u001b\[[0-9;?]*[A-Za-z]|\n|\r/).map((l) => [...l].length));
    assert.ok(longest <= 40, `line of ${longest} characters`);
  });
});
