// report.html's node-local DNS section (issue 13): the talk's node-local DNS dashboard beside the cause.
import assert from 'node:assert/strict';
import { renderHtml } from '../../harness/report/html.js';
import { probeDef, type ProbeId } from '../../harness/probes/catalog.js';
import type { Results, Series } from '../../harness/results.js';
import { makeResults } from './helpers.js';

function series(probe: ProbeId, target: string, values: number[]): Series {
  const p = probeDef(probe);
  return { probe, target, unit: p.unit, kind: p.kind, points: values.map((v, i) => [i, v]) };
}

/** baseline: 30 rejects, 12 in flight at most, 18 MiB; nld-bigger: none, 40 in flight, 18.5 MiB. */
function withNld(provider: string): Results {
  const r = makeResults({ variants: ['baseline', 'fix'] });
  r.provider = provider;
  const [base, big] = r.variants;
  big!.name = 'nld-bigger';
  base!.series.push(
    series('nld.queries', 'node1', [0, 20, 40, 60]),
    series('nld.rejects', 'node1', [0, 0, 10, 30]),
    series('nld.upstreamFailures', 'node1', [0, 5, 9, 11]),
    series('nld.memoryBytes', 'node1', [18 * 1048576, 18 * 1048576, 17 * 1048576, 17 * 1048576]),
  );
  big!.series.push(
    series('nld.queries', 'node1', [0, 20, 40, 60]),
    series('nld.rejects', 'node1', [0, 0, 0, 0]),
    series('nld.upstreamFailures', 'node1', [0, 7, 15, 21]),
    series('nld.memoryBytes', 'node1', [18.5 * 1048576, 18 * 1048576, 18 * 1048576, 18 * 1048576]),
  );
  if (provider === 'lab') {
    base!.series.push(series('nld.inFlight', 'node1', [0, 12, 3, 0]));
    big!.series.push(series('nld.inFlight', 'node1', [0, 40, 3, 0]));
  }
  big!.config = { ...big!.config, topology: { nodeLocalDnsLimits: { maxConcurrent: 80, memoryMb: 64 } } };
  return r;
}

function section(html: string): string {
  const i = html.indexOf('<section id="nld">');
  assert.ok(i >= 0, 'the node-local DNS section is there');
  // the section holds rows (sections of their own): up to the next top-level section
  return html.slice(i, html.indexOf('<section id="more">') >= 0 ? html.indexOf('<section id="more">') : html.indexOf('<section id="run">'));
}

function row(sec: string, variant: string): string[] {
  const tr = sec.slice(sec.indexOf(`<div class="vname">${variant}</div>`));
  return [...tr.slice(0, tr.indexOf('</tr>')).matchAll(/<td class="num[^"]*"[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]!);
}

describe('report: the node-local DNS section', () => {
  it('lab: the cause and every symptom per variant, the limits, and a chart per probe and variant', () => {
    const r = withNld('lab');
    const sec = section(renderHtml(r));
    assert.match(sec, /node-local DNS: what its dashboard showed/);
    // cause (ENA exceeded), DNS errors, queries, rejects, upstream failures, peak in flight, peak MiB
    const base = row(sec, 'baseline');
    const big = row(sec, 'nld-bigger');
    assert.equal(base.length, 7);
    assert.deepEqual(base.slice(2), ['60', '30', '11', '12', '18']);
    assert.deepEqual(big.slice(2), ['60', '0', '21', '40', '18.5']);
    assert.match(sec, /limits: 80 queries, 64 MB/);
    for (const id of ['nldQueries', 'nldRejects', 'nldUpstream', 'nldInFlight', 'nldMemory'])
      assert.equal((sec.match(new RegExp(`data-row="${id}"`, 'g')) ?? []).length, 2, `${id}: one chart per variant`);
    assert.doesNotMatch(sec, />n\/a</);
  });

  it("kind: in flight is n/a with the catalog's reason (CoreDNS has no such metric); its chart is not drawn", () => {
    const sec = section(renderHtml(withNld('kind')));
    const base = row(sec, 'baseline');
    assert.equal(base[5], 'n/a');
    assert.match(sec, /class="num muted na" title="CoreDNS has no in-flight metric[^"]*">n\/a<\/td>/);
    assert.doesNotMatch(sec, /data-row="nldInFlight"/);
    assert.equal(row(sec, 'nld-bigger')[3], '0');
  });

  it('the nld probes are charted in the section, not again under "More probes"; no nld series: no section', () => {
    const html = renderHtml(withNld('lab'));
    const more = html.indexOf('<section id="more">') >= 0 ? html.slice(html.indexOf('<section id="more">')) : '';
    assert.doesNotMatch(more, /probe-nld/);
    assert.doesNotMatch(renderHtml(makeResults()), /<section id="nld">/);
  });
});
