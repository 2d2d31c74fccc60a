import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Results } from '../../harness/results.js';
import { renderJunit } from '../../harness/report/junit.js';
import { expectationMessage } from '../../harness/report/format.js';
import { unitForExpectation } from '../../harness/report/series.js';
import { makeResults } from './helpers.js';

interface Case {
  '@_name': string;
  '@_classname': string;
  failure?: { '@_message': string; '#text'?: string };
  error?: { '@_message': string; '@_type': string; '#text'?: string };
}
interface Suite {
  '@_name': string;
  '@_tests': string;
  '@_failures': string;
  '@_errors': string;
  testcase?: Case[];
}
interface Doc {
  testsuites: { '@_tests': string; '@_failures': string; '@_errors': string; testsuite: Suite[] };
}

function parse(xml: string): Doc {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, `junit.xml is not well-formed XML: ${JSON.stringify(valid)}`);
  return new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => name === 'testsuite' || name === 'testcase',
    processEntities: true,
    htmlEntities: false,
  }).parse(xml) as Doc;
}

function check(results: Results): Doc {
  const doc = parse(renderJunit(results));
  const ex = results.verdict.expectations;
  const variantNames = [...results.variants.map((v) => v.name), ...(ex.some((e) => e.variant === 'compare') ? ['compare'] : [])];
  const suites = doc.testsuites.testsuite;
  const expectedSuites = variantNames.length + (results.error ? 1 : 0);
  assert.equal(suites.length, expectedSuites, 'one testsuite per variant, + compare, + harness error');
  for (const name of variantNames) {
    const suite = suites.find((s) => s['@_name'] === `notdns.${results.experiment.name}.${name}`);
    assert.ok(suite, `suite for ${name}`);
    const mine = ex.filter((e) => e.variant === name);
    const cases = suite.testcase ?? [];
    assert.equal(cases.length, mine.length);
    assert.equal(Number(suite['@_tests']), mine.length);
    assert.equal(Number(suite['@_failures']), mine.filter((e) => !e.pass).length);
    mine.forEach((e, i) => {
      const c = cases[i]!;
      assert.equal(c['@_name'], e.label);
      assert.equal(c['@_classname'], `notdns.${results.experiment.name}.${name}`);
      if (e.pass) {
        assert.equal(c.failure, undefined);
      } else {
        assert.ok(c.failure, `${e.label} has a <failure>`);
        assert.equal(c.failure['@_message'], expectationMessage(e, unitForExpectation(results, e)));
        assert.match(c.failure['@_message'], /: measured .+ vs threshold (>=|>|<=|<|==) /);
      }
    });
  }
  assert.equal(Number(doc.testsuites['@_tests']), ex.length + (results.error ? 1 : 0));
  assert.equal(Number(doc.testsuites['@_failures']), ex.filter((e) => !e.pass).length);
  assert.equal(Number(doc.testsuites['@_errors']), results.error ? 1 : 0);
  return doc;
}

describe('report: junit.xml', () => {
  it('has one suite per variant and compare, one case per expectation, failures with measured vs threshold', () => {
    const r = makeResults();
    assert.ok(
      r.verdict.expectations.some((e) => !e.pass) && r.verdict.expectations.some((e) => e.pass),
      'the generator makes passes and failures',
    );
    check(r);
  });

  it('a not-measured expectation fails with "n/a"', () => {
    const r = makeResults();
    const e = r.verdict.expectations.find((x) => x.measured === null)!;
    const doc = check(r);
    const c = doc.testsuites.testsuite.flatMap((s) => s.testcase ?? []).find((x) => x['@_name'] === e.label)!;
    assert.match(c.failure!['@_message'], /measured n\/a/);
  });

  it('a harness error becomes a testcase with <error>', () => {
    const r = makeResults({ error: true });
    const doc = check(r);
    const harness = doc.testsuites.testsuite.find((s) => s['@_name'].endsWith('.harness'))!;
    const c = harness.testcase![0]!;
    assert.ok(c.error, '<error> element');
    assert.equal(c.error['@_type'], r.error!.kind);
    assert.ok(c.error['@_message'].includes(r.error!.message));
    assert.ok(c.error['#text']!.includes(r.error!.hint!));
  });

  it('escapes labels and messages (quotes, <, &, control characters) and stays well-formed', () => {
    const r = makeResults({ error: true, nastyLabels: true });
    r.verdict.expectations[0]!.detail = 'bell \u0007 and ]]> and \r\n newline';
    const xml = renderJunit(r);
    assert.ok(!xml.includes('\u0007'));
    const doc = check(r);
    const labels = doc.testsuites.testsuite.flatMap((s) => s.testcase ?? []).map((c) => c['@_name']);
    for (const e of r.verdict.expectations) assert.ok(labels.includes(e.label), `label round-trips: ${e.label}`);
  });

  it('a variant without expectations still gets an (empty) suite', () => {
    const r = makeResults();
    r.verdict.expectations = r.verdict.expectations.filter((e) => e.variant !== 'fix' && e.variant !== 'compare');
    const doc = check(r);
    const fix = doc.testsuites.testsuite.find((s) => s['@_name'].endsWith('.fix'))!;
    assert.equal(Number(fix['@_tests']), 0);
  });
});
