// `notdns plan` and n/a expectations: what applies on which provider, and how an n/a expectation shows everywhere
// (never evaluated, never counted in the verdict, skipped in JUnit).
import assert from 'node:assert/strict';
import { assertSomethingApplies, notApplicable, planOf, renderPlan } from '../../harness/plan.js';
import { loadExperiment } from '../../harness/spec/load.js';
import { ExperimentSchema } from '../../harness/spec/schema.js';
import { renderJunit } from '../../harness/report/junit.js';
import { renderVerdict, verdictLine } from '../../harness/report/terminal.js';
import { clone, makeResults } from '../report/helpers.js';

describe('plan: which expectations apply on which provider', () => {
  it('the flagship on the lab: all 29 apply (19, nld-bigger: 2 + 2 comparisons, dns-round-robin: 6)', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    const p = planOf(experiment, 'lab');
    assert.equal(p.expectations.length, 29);
    assert.deepEqual(
      p.expectations.filter((x) => x.na),
      [],
    );
    assert.match(renderPlan(p), /expectations: 29 apply\n/);
  });

  it('the flagship on kind: martians and dig are n/a with the reason; SYNs, the allowance, DNS errors, pod ICMP and estab apply', async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    const p = planOf(experiment, 'kind');
    const na = p.expectations.filter((x) => x.na);
    assert.ok(na.length > 0 && na.length < p.expectations.length);
    for (const x of na) assert.match(x.na!, /^n\/a on kind: \S/);
    // the dns-round-robin variant is checked apart (the next test)
    const byLabel = (re: RegExp) => p.expectations.filter((x) => re.test(x.label) && x.variant !== 'dns-round-robin');
    for (const x of byLabel(/martian/)) assert.match(x.na ?? '', /rp_filter=0/, x.label);
    for (const x of byLabel(/dig \+tcp/)) assert.match(x.na ?? '', /dig/, x.label);
    for (const x of byLabel(/SYNs to old pod IPs|conntrack_allowance_exceeded|DNS errors|ICMP|established-connection/))
      assert.equal(x.na, undefined, x.label);
    assert.match(renderPlan(p), new RegExp(`${p.expectations.length - na.length} apply, ${na.length} n/a on kind`));
  });

  it("the flagship dns-round-robin on kind: SYNs, estab and the clients' resolutions apply; the allowance stays lab-only; martians n/a", async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood');
    const dns = planOf(experiment, 'kind').expectations.filter((x) => x.variant === 'dns-round-robin');
    assert.equal(dns.length, 6);
    const naOf = (re: RegExp) => dns.filter((x) => re.test(x.label)).map((x) => x.na);
    assert.deepEqual(naOf(/SYNs to old pod IPs|established-connection|resolutions|backend set changes/), [
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    assert.deepEqual(naOf(/conntrack_allowance_exceeded/), ['n/a on kind: the experiment applies it on lab only']);
    assert.match(naOf(/martian/)[0] ?? '', /rp_filter=0/);
    // kubeconfig: DNS discovery is refused there, nothing of the variant applies
    assert.ok(
      planOf(experiment, 'kubeconfig')
        .expectations.filter((x) => x.variant === 'dns-round-robin')
        .every((x) => x.na),
    );
  });

  it("rollout-syn-flood-kind: the flagship plus kind's own mechanism (Cilium's stale-IP drops and conntrack, node-local-dns health checks)", async () => {
    const { experiment } = await loadExperiment('rollout-syn-flood-kind');
    const lab = planOf(experiment, 'lab');
    const kind = planOf(experiment, 'kind');
    const flagship = planOf((await loadExperiment('rollout-syn-flood')).experiment, 'kind');
    assert.equal(lab.expectations.length, 29 + 5);
    assert.deepEqual(
      lab.expectations.filter((x) => x.na).map((x) => [x.variant, x.na]),
      [
        ['baseline', 'n/a on lab: the experiment applies it on kind only'],
        ['baseline', 'n/a on lab: the experiment applies it on kind only'],
        ['baseline', 'n/a on lab: the experiment applies it on kind only'],
        ['dns-round-robin', 'n/a on lab: the experiment applies it on kind only'],
        ['compare', 'n/a on lab: the experiment applies it on kind only'],
      ],
    );
    const applies = (p: typeof kind) => p.expectations.filter((x) => !x.na).map((x) => `${x.variant} ${x.label}`);
    assert.deepEqual(
      applies(kind).filter((l) => !applies(flagship).includes(l)),
      [
        'baseline total Cilium drops: stale or unroutable IP [flooded-nodes] >= 100',
        'baseline total node-local DNS upstream failures [flooded-nodes] >= 1',
        'baseline max Cilium conntrack entries (TCP) [other-nodes] >= 1000',
        'dns-round-robin total Cilium drops: stale or unroutable IP [flooded-nodes] >= 100',
        'compare max Cilium conntrack entries (TCP) [other-nodes]: baseline/fix >= 3',
      ],
    );
    assert.ok(applies(kind).includes('cilium-unreachable total ICMP dest-unreachable received >= 1'));
  });

  it('an expectation limited to other providers is n/a, with the providers named', () => {
    assert.equal(notApplicable({ probe: 'dns.errors', providers: ['kind'] }, 'kind'), undefined);
    assert.match(
      notApplicable({ probe: 'dns.errors', providers: ['kind'] }, 'lab')!,
      /^n\/a on lab: the experiment applies it on kind only$/,
    );
    assert.equal(notApplicable({ probe: 'martian.drops' }, 'lab'), undefined);
  });

  it('an experiment with nothing that applies on a provider is refused before anything is created', () => {
    const e = ExperimentSchema.parse({
      name: 'only-martians',
      description: 'd',
      steps: [{ steady: 1 }],
      variants: { a: {} },
      expect: { a: [{ probe: 'martian.drops', stat: 'total', op: '>=', value: 1 }] },
    });
    assert.doesNotThrow(() => assertSomethingApplies(planOf(e, 'lab')));
    assert.throws(
      () => assertSomethingApplies(planOf(e, 'kind')),
      (err: any) =>
        err.kind === 'usage' &&
        /none of the 1 expectations of only-martians applies on --provider kind/.test(err.message) &&
        /notdns plan only-martians --provider kind/.test(err.hint),
    );
  });
});

describe('plan: an n/a expectation in the verdict, JUnit and the closing line', () => {
  function withNa() {
    const r = clone(makeResults());
    const x = r.verdict.expectations[0]!;
    Object.assign(x, { pass: false, measured: null, na: 'n/a on kind: Cilium sets rp_filter=0' });
    r.provider = 'kind';
    r.verdict.pass = r.verdict.expectations.every((e) => e.pass || e.na);
    return { r, x };
  }
  it('is not a failure: the verdict line counts it apart, the table says n/a with the reason', () => {
    const { r, x } = withNa();
    const others = r.verdict.expectations.filter((e) => !e.na);
    if (others.every((e) => e.pass))
      assert.match(verdictLine(r), new RegExp(`all ${others.length} expectations passed \\(1 n/a on kind\\)`));
    const text = renderVerdict(r, { color: false });
    assert.match(text, /1 expectation n\/a \(not evaluated\):\n {2}\[[^\]]+\] .+: n\/a on kind: Cilium sets rp_filter=0/);
    assert.doesNotMatch(
      text
        .split('\n')
        .filter((l) => l.includes(x.label.slice(0, 40)))
        .join('\n'),
      /FAIL/,
    );
  });
  it('is a skipped testcase in JUnit, with the reason', () => {
    const { r } = withNa();
    const xml = renderJunit(r);
    assert.match(xml, /<skipped message="n\/a on kind: Cilium sets rp_filter=0"\/>/);
    assert.match(xml, /<testsuites [^>]*skipped="1"/);
  });
});
