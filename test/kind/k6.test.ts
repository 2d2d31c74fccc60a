// The k6 script type-checks against @types/k6 with its own tsconfig (the root tsconfig excludes it).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../harness/paths.js';

const dir = join(repoRoot, 'workloads', 'alerting-engine-k6');
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

describe('k6: workloads/alerting-engine-k6', function () {
  this.timeout(120_000);

  it('script.ts type-checks with tsc -p workloads/alerting-engine-k6/tsconfig.json', async () => {
    const r = await execa(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { reject: false });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  });

  it('the check is real: a wrong call into k6/net/grpc fails it', async () => {
    const tmp = await mkdtemp(join(dir, '.typecheck-'));
    try {
      const src = (await readFile(join(dir, 'script.ts'), 'utf8')).replace(
        "client.load([PROTO_DIR], 'metrics.proto');",
        'client.load(PROTO_DIR, 42);',
      );
      await writeFile(join(tmp, 'script.ts'), src);
      const cfg = JSON.parse(await readFile(join(dir, 'tsconfig.json'), 'utf8'));
      cfg.compilerOptions.typeRoots = ['../../../node_modules/@types'];
      await writeFile(join(tmp, 'tsconfig.json'), JSON.stringify(cfg));
      const r = await execa(process.execPath, [tsc, '-p', join(tmp, 'tsconfig.json')], { reject: false });
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stdout, /script\.ts.*error TS/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('calls the Metrics service and method that metrics.proto declares; README explains the missing backoff knob', async () => {
    const proto = await readFile(join(repoRoot, 'workloads', 'proto', 'metrics.proto'), 'utf8');
    const pkg = /package\s+([\w.]+);/.exec(proto)![1];
    assert.match(proto, /service Metrics \{[\s\S]*rpc Query\(/);
    const script = await readFile(join(dir, 'script.ts'), 'utf8');
    assert.ok(script.includes(`'${pkg}.Metrics/Query'`));
    assert.ok(script.includes("from 'k6/net/grpc'"));
    const readme = await readFile(join(dir, 'README.md'), 'utf8');
    assert.match(readme, /no reconnect-backoff setting/);
    assert.match(readme, /grpc-js Alerting Engine/);
  });
});
