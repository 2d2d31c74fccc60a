// "did you mean ...?" (harness/suggest.ts) and where it shows up without the CLI: the experiment schema (probes,
// targets, variant names under expect/compare) and the lookups of experiments and variants.
import assert from 'node:assert/strict';
import { closestName, didYouMean } from '../../harness/suggest.js';
import { NotdnsError } from '../../harness/errors.js';
import { expandVariant, listExperiments, loadExperiment, validateExperiment } from '../../harness/spec/load.js';
import { PROBES, TARGETS } from '../../harness/spec/schema.js';
import { selectVariants } from '../../harness/run/index.js';

const spec = (expectation: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: 'tiny',
  description: 'a tiny experiment',
  steps: [{ steady: 2 }, { rollout: { batch: 1 } }, { observe: 2 }],
  variants: { baseline: {}, fix: {} },
  expect: { baseline: [{ probe: 'syn.in', stat: 'total', op: '>=', value: 1, ...expectation }] },
  ...extra,
});

/** The paragraph validateExperiment refuses `raw` with. */
function refusal(raw: unknown): string {
  try {
    validateExperiment(raw, 'tiny.yaml');
  } catch (e) {
    assert.ok(e instanceof NotdnsError, String(e));
    assert.equal(e.kind, 'spec');
    return e.explain();
  }
  assert.fail('accepted');
}

describe('cli: did you mean (suggest.ts)', () => {
  it('finds the known name a typo is closest to, and nothing for what is far from every name', () => {
    assert.equal(closestName('dns.errrors', PROBES), 'dns.errors');
    assert.equal(closestName('DNS.Errors', PROBES), 'dns.errors', 'case is a typo too');
    assert.equal(closestName('lsit', ['run', 'list', 'validate']), 'list', 'a swap is two edits');
    assert.equal(closestName('rollout', ['rollout-syn-flood', 'rp-filter-edge-case']), 'rollout-syn-flood', 'the only name it starts');
    assert.equal(closestName('basline', ['baseline', 'fix']), 'baseline');
    assert.equal(closestName('fxi', ['baseline', 'fix']), 'fix', 'a swap of neighbouring letters is one typo');
    assert.equal(closestName('frobnicate', ['run', 'list', 'compare', 'report']), undefined);
    assert.equal(closestName('nope', ['only']), undefined);
    assert.equal(closestName('list', ['list', 'lint']), undefined, 'a known name needs no suggestion');
    assert.equal(closestName('lixt', ['list', 'lint']), undefined, 'two equally close names: no guess');
    assert.equal(closestName('', ['list']), undefined);
    assert.equal(didYouMean('fxi', ['baseline', 'fix']), 'did you mean `fix`? ');
    assert.equal(didYouMean('fxi', ['baseline', 'fix'], { sentence: true }), 'Did you mean `fix`? ');
    assert.equal(didYouMean('zzz', ['baseline', 'fix']), '');
  });

  it('unknown probe: the suggestion first, then every known probe', () => {
    const text = refusal(spec({ probe: 'dns.errrors' }));
    assert.match(
      text,
      /expect\.baseline\[0\]\.probe: unknown probe "dns\.errrors": did you mean `dns\.errors`\? known probes: syn\.toOldPodIps, /,
    );
    for (const p of PROBES) assert.ok(text.includes(p), `lists ${p}`);
    assert.doesNotMatch(refusal(spec({ probe: 'quux' })), /did you mean/, 'no suggestion when nothing is close');
    assert.match(refusal(spec({ probe: 'quux' })), /unknown probe "quux": known probes: /);
  });

  it('a target one typo away from a fixed name is refused with the name; node and pod names pass', () => {
    const text = refusal(spec({ target: 'flooded-node' }));
    assert.match(text, /expect\.baseline\[0\]\.target: unknown target "flooded-node": did you mean `flooded-nodes`\?/);
    assert.ok(
      TARGETS.every((t) => text.includes(t)),
      `lists the fixed targets:\n${text}`,
    );
    assert.match(refusal(spec({ target: 'sever-pods' })), /did you mean `server-pods`\?/);
    assert.match(refusal(spec({ target: 'Flooded-Nodes' })), /did you mean `flooded-nodes`\? a target is sum \| max/);
    for (const ok of [...TARGETS, 'node2', 'node12', 'metrics-service-7f9c-abcde', 'alerting-engine-0', 'all']) {
      assert.doesNotThrow(() => validateExperiment(spec({ target: ok }), 'tiny.yaml'), ok);
    }
  });

  it('variant names under expect and compare, and for --variant: the closest variant', async () => {
    assert.match(
      refusal(spec({}, { expect: { basline: [] } })),
      /expect\.basline: there is no variant named "basline": did you mean `baseline`\? variants: baseline, fix/,
    );
    assert.match(
      refusal(spec({}, { compare: [{ ratio: ['baseline', 'fxi'], probe: 'syn.in', stat: 'total', op: '>=', value: 2 }] })),
      /compare\[0\]\.ratio\[1\]: there is no variant named "fxi": did you mean `fix`\? variants: baseline, fix/,
    );
    const e = validateExperiment(spec({}), 'tiny.yaml');
    assert.throws(
      () => selectVariants(e, ['basline']),
      (x: NotdnsError) => x.kind === 'usage' && x.hint === 'Did you mean `baseline`? Use --variant with one of: baseline, fix.',
    );
    assert.throws(
      () => expandVariant(e, 'fixx'),
      (x: NotdnsError) => x.kind === 'usage' && /^Did you mean `fix`\? Use one of: baseline, fix\.$/.test(x.hint ?? ''),
    );
    assert.throws(
      () => selectVariants(e, ['nope']),
      (x: NotdnsError) => x.hint === 'Use --variant with one of: baseline, fix.',
    );
  });

  it('unknown experiment: the closest built-in, then all of them', async () => {
    const all = (await listExperiments()).map((e) => e.name).join(', ');
    assert.match(all, /rollout-syn-flood, rp-filter-edge-case/);
    await assert.rejects(
      loadExperiment('rp-filter-edge-cse'),
      (e: NotdnsError) => e.kind === 'usage' && (e.hint ?? '').startsWith(`Did you mean \`rp-filter-edge-case\`? Use one of: ${all} `),
    );
    await assert.rejects(
      loadExperiment('no-such-thing'),
      (e: NotdnsError) => !/Did you mean/.test(e.hint ?? '') && (e.hint ?? '').includes(`Use one of: ${all}`),
    );
  });
});
