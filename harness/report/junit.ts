// junit.xml for CI: one <testsuite> per variant (plus one for cross-variant 'compare' expectations, and one
// named 'harness' when the harness itself failed), one <testcase> per expectation.
import type { ExpectationResult, Results } from '../results.js';
import { expectationMessage, fmtNum } from './format.js';
import { unitForExpectation } from './series.js';

/** Characters XML 1.0 does not allow at all (most C0 controls, lone surrogates, U+FFFE/FFFF). */
// eslint-disable-next-line no-control-regex
const INVALID_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape for XML text content. */
export function xmlText(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escape for a double-quoted XML attribute (newlines and tabs kept as character references). */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

/** Dots separate package and class in CI UIs: keep names free of them. */
function classPart(s: string): string {
  return s.replace(/[.\s]+/g, '_');
}

interface Suite {
  name: string;
  expectations: ExpectationResult[];
  time: number;
  timestamp?: string;
}

function suitesOf(results: Results): Suite[] {
  const suites: Suite[] = results.variants.map((v) => ({
    name: v.name,
    expectations: [],
    time: v.durationSeconds,
    timestamp: v.startedAt,
  }));
  const byName = new Map(suites.map((s) => [s.name, s]));
  for (const e of results.verdict.expectations) {
    let s = byName.get(e.variant);
    if (!s) {
      // 'compare', or an expectation for a variant that did not get to run.
      s = { name: e.variant, expectations: [], time: 0 };
      byName.set(e.variant, s);
      suites.push(s);
    }
    s.expectations.push(e);
  }
  // compare last, whatever order the expectations came in.
  return [...suites.filter((s) => s.name !== 'compare'), ...suites.filter((s) => s.name === 'compare')];
}

function testcase(results: Results, e: ExpectationResult, classname: string): string {
  const head = `    <testcase${attrs({ name: e.label, classname, time: 0 })}`;
  if (e.na) return `${head}>\n      <skipped${attrs({ message: e.na })}/>\n    </testcase>`;
  if (e.pass) return `${head}/>`;
  const message = expectationMessage(e, unitForExpectation(results, e));
  const body = [
    message,
    `probe: ${e.probe}  stat: ${e.stat}  op: ${e.op}  threshold: ${exact(e.threshold)}  measured: ${e.measured === null ? 'null (could not be measured)' : exact(e.measured)}`,
    e.detail ? `detail: ${e.detail}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return `${head}>\n      <failure${attrs({ message, type: 'expectation' })}>${xmlText(body)}</failure>\n    </testcase>`;
}

/** Render junit.xml (Ant/Jenkins flavour, understood by GitHub/GitLab/Jenkins/Buildkite test reporters). */
export function renderJunit(results: Results): string {
  const exp = classPart(results.experiment.name);
  const suites = suitesOf(results);
  const lines: string[] = [];
  let tests = 0,
    failures = 0,
    errors = 0,
    skippedAll = 0;
  const body: string[] = [];
  for (const s of suites) {
    const classname = `notdns.${exp}.${classPart(s.name)}`;
    const f = s.expectations.filter((e) => !e.pass && !e.na).length;
    const skipped = s.expectations.filter((e) => e.na).length;
    tests += s.expectations.length;
    failures += f;
    skippedAll += skipped;
    body.push(
      `  <testsuite${attrs({ name: classname, tests: s.expectations.length, failures: f, errors: 0, skipped, time: round(s.time), timestamp: s.timestamp, hostname: results.host.hostname })}>`,
    );
    if (s.name !== 'compare') {
      const v = results.variants.find((x) => x.name === s.name);
      if (v?.description)
        body.push(`    <properties>\n      <property${attrs({ name: 'description', value: v.description })}/>\n    </properties>`);
    }
    for (const e of s.expectations) body.push(testcase(results, e, classname));
    body.push('  </testsuite>');
  }
  for (const v of results.variants.filter((x) => x.stopped)) {
    // a stopped variant is a failure CI must see, with which condition tripped, when and the value
    const st = v.stopped!;
    const classname = `notdns.${exp}.${classPart(v.name)}.stopped`;
    const message = `stopped at t=${st.t}s by ${st.by}: ${st.label}${st.value !== null ? ` (measured ${exact(st.value)})` : ''}`;
    const text = [
      message,
      st.faultRemovedAt !== null
        ? `fault removed at t=${st.faultRemovedAt}s`
        : 'the fault was not removed at once (the teardown removed it)',
      st.detail ?? '',
    ]
      .filter(Boolean)
      .join('\n');
    tests += 1;
    failures += 1;
    body.push(
      `  <testsuite${attrs({ name: classname, tests: 1, failures: 1, errors: 0, skipped: 0, time: round(0), timestamp: v.startedAt, hostname: results.host.hostname })}>`,
    );
    body.push(
      `    <testcase${attrs({ name: 'stop condition', classname, time: 0 })}>\n      <failure${attrs({ message, type: 'stopped' })}>${xmlText(text)}</failure>\n    </testcase>`,
    );
    body.push('  </testsuite>');
  }
  if (results.error) {
    const err = results.error;
    const classname = `notdns.${exp}.harness`;
    const name = `harness error${err.phase ? ` during ${err.phase}` : ''}`;
    const message = `${err.kind}${err.phase ? ` (phase: ${err.phase})` : ''}: ${err.message}`;
    const text = [err.message, err.hint ? `Fix: ${err.hint}` : ''].filter(Boolean).join('\n');
    tests += 1;
    errors += 1;
    body.push(
      `  <testsuite${attrs({ name: classname, tests: 1, failures: 0, errors: 1, skipped: 0, time: round(0), timestamp: results.startedAt, hostname: results.host.hostname })}>`,
    );
    body.push(
      `    <testcase${attrs({ name, classname, time: 0 })}>\n      <error${attrs({ message, type: err.kind })}>${xmlText(text)}</error>\n    </testcase>`,
    );
    body.push('  </testsuite>');
  }
  const totalTime = results.variants.reduce((a, v) => a + v.durationSeconds, 0);
  lines.push('<?xml version="1.0" encoding="UTF-8"?>');
  lines.push(
    `<testsuites${attrs({ name: `notdns.${exp}`, tests, failures, errors, skipped: skippedAll, time: round(totalTime), timestamp: results.startedAt })}>`,
  );
  lines.push(...body);
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

/** The formatted value, with the raw number when formatting rounded it. */
function exact(v: number): string {
  const f = fmtNum(v);
  return f === String(v) ? f : `${f} (${v})`;
}

function round(x: number): string {
  return (Math.round(x * 1000) / 1000).toFixed(3);
}
