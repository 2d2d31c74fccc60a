// The workload image against a real Docker engine (scripts/docker/start-dockerd.sh starts one here and builds
// the debootstrap base once): build workloads/Dockerfile from the staged context with testcontainers, then
// smoke-test the Metrics Service in it: gRPC health, a Query, and the graceful stop (SIGTERM → new connects
// refused, exit 0 after --graceful-stop-seconds). Skips with the reason where Docker cannot start, or with
// NOTDNS_SKIP_DOCKER=1.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import * as grpc from '@grpc/grpc-js';
import { repoRoot } from '../../harness/paths.js';
import { OFFLINE_BASE, stageBuildContext } from '../../harness/providers/kind/images.js';
import { loadProtos } from '../../workloads/common/proto.js';
import type { StartedTestContainer } from 'testcontainers';

const TAG = 'notdns/workloads:test';
const GRACE_S = 4;

function healthCheck(addr: string, deadlineMs = 3000): Promise<string> {
  const p = loadProtos();
  const c = new grpc.Client(addr, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(
      p.healthCheck.path,
      p.healthCheck.requestSerialize,
      p.healthCheck.responseDeserialize,
      { service: '' },
      { deadline: Date.now() + deadlineMs },
      (err, res) => {
        c.close();
        err ? reject(err) : resolve(res!.status);
      },
    );
  });
}

function query(addr: string): Promise<{ result: string; server_id: string }> {
  const p = loadProtos();
  const c = new grpc.Client(addr, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(
      p.query.path,
      p.query.requestSerialize,
      p.query.responseDeserialize,
      { query: 'up', delay_ms: 0, client_id: 'test' },
      { deadline: Date.now() + 3000 },
      (err, res) => {
        c.close();
        err ? reject(err) : resolve(res!);
      },
    );
  });
}

describe('workload image on a real Docker engine (testcontainers)', function () {
  this.timeout(15 * 60_000);
  let ctx: string | undefined;
  let startedEngine = false;

  before(async function () {
    if (process.env.NOTDNS_SKIP_DOCKER === '1') {
      console.log('      skipped: NOTDNS_SKIP_DOCKER=1');
      this.skip();
    }
    const r = await execa('bash', [join(repoRoot, 'scripts', 'docker', 'start-dockerd.sh')], {
      reject: false,
      timeout: 12 * 60_000,
      all: true,
    });
    startedEngine = /starting dockerd/.test(String(r.all ?? ''));
    if (r.exitCode !== 0) {
      console.log(
        `      skipped: no Docker engine here (scripts/docker/start-dockerd.sh exit ${r.exitCode}): ${String(r.all ?? '')
          .trim()
          .split('\n')
          .slice(-2)
          .join(' | ')}`,
      );
      this.skip();
    }
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
    const { GenericContainer } = await import('testcontainers');
    ctx = await mkdtemp(join(tmpdir(), 'nd-image-ctx-'));
    await stageBuildContext(join(ctx, 'ctx'));
    // machines with a registry would use the Dockerfile's default BASE (node:20-bookworm-slim)
    await GenericContainer.fromDockerfile(join(ctx, 'ctx')).withBuildArgs({ BASE: OFFLINE_BASE }).build(TAG, { deleteOnExit: false });
  });

  after(async () => {
    if (ctx) await rm(ctx, { recursive: true, force: true });
    // an engine this suite started is stopped again (and its docker0 bridge removed): nothing left on the host
    if (startedEngine)
      await execa('bash', [join(repoRoot, 'scripts', 'docker', 'start-dockerd.sh'), '--stop'], { reject: false, timeout: 30_000 });
  });

  async function startMetricsService(extra: string[] = []): Promise<StartedTestContainer> {
    const { GenericContainer, Wait } = await import('testcontainers');
    return new GenericContainer(TAG)
      .withCommand([
        'node',
        'dist/workloads/metrics-service/main.js',
        '--admin',
        'tcp:9090',
        '--port',
        '50051',
        '--graceful-stop-seconds',
        String(GRACE_S),
        '--id',
        'ms-test',
        ...extra,
      ])
      .withExposedPorts(50051, 9090)
      .withWaitStrategy(Wait.forHttp('/healthz', 9090).forStatusCode(200))
      .withStartupTimeout(60_000)
      .start();
  }

  it('the image runs the Metrics Service as nobody with the protos found; gRPC health is SERVING and Query answers', async () => {
    const c = await startMetricsService();
    try {
      const addr = `${c.getHost()}:${c.getMappedPort(50051)}`;
      assert.equal(await healthCheck(addr), 'SERVING');
      const q = await query(addr);
      assert.equal(q.server_id, 'ms-test');
      const id = await c.exec(['id', '-u']);
      assert.equal(id.output.trim(), '65534');
      const m = await fetch(`http://${c.getHost()}:${c.getMappedPort(9090)}/metrics.json`);
      assert.equal(m.status, 200);
      assert.ok(Array.isArray(await m.json()));
    } finally {
      await c.stop({ timeout: 1_000 });
    }
  });

  it('graceful stop: after SIGTERM new connects are refused, the process exits 0 after the grace period', async () => {
    const c = await startMetricsService();
    const id = c.getId();
    const addr = `${c.getHost()}:${c.getMappedPort(50051)}`;
    try {
      assert.equal(await healthCheck(addr), 'SERVING');
      // connect from inside the container's own network namespace: a refusal there is the kernel's RST
      const probe =
        "const s=require('net').connect(50051,'127.0.0.1');s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})";
      assert.equal((await c.exec(['node', '-e', probe])).output.trim(), 'connected');
      const t0 = Date.now();
      await execa('docker', ['kill', '--signal', 'TERM', id]);
      await new Promise((r) => setTimeout(r, 500));
      const during = await c.exec(['node', '-e', probe]);
      assert.equal(during.output.trim(), 'ECONNREFUSED', 'new connects are refused during the graceful stop');
      let running = true,
        exitCode = -1;
      while (running && Date.now() - t0 < (GRACE_S + 20) * 1000) {
        const r = await execa('docker', ['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}}', id]);
        const [run, code] = r.stdout.trim().split(' ');
        running = run === 'true';
        exitCode = Number(code);
        if (running) await new Promise((res) => setTimeout(res, 100));
      }
      const elapsed = (Date.now() - t0) / 1000;
      assert.equal(running, false, 'exited');
      assert.equal(exitCode, 0);
      assert.ok(elapsed >= GRACE_S - 0.5, `stayed for the grace period (${elapsed.toFixed(1)} s)`);
      assert.ok(elapsed < GRACE_S + 5, `exited soon after it (${elapsed.toFixed(1)} s), well before a kubelet's SIGKILL`);
    } finally {
      await c.stop({ timeout: 1_000 }).catch(() => undefined);
    }
  });
});
