/**
 * The metrics HTTP endpoint over real sockets: /healthz 200/503, 404 and 405, HEAD, query
 * strings, loopback default, IPv6, a port in use, option validation and close().
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { startMetricsServer, type MetricsServer, type MetricsServerOptions } from '../../src/metrics/index.js';
import { IroError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import type { ExpositionSource, HealthReport } from '../../src/metrics/types.js';
import { recordingLogger, request } from './http.js';

const BODY = '# HELP x_total a test counter\n# TYPE x_total counter\nx_total 42\n';
const registry: ExpositionSource = { contentType: 'text/plain; version=0.0.4; charset=utf-8', metrics: async () => BODY };

async function withServer(
  opts: Partial<MetricsServerOptions>,
  body: (server: MetricsServer) => Promise<void>,
): Promise<void> {
  const server = await startMetricsServer({ port: 0, registry, health: () => ({ ok: true }), log: silentLogger, ...opts });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

/** Whether a TCP connection to host:port is accepted. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('GET /metrics returns the registry text with its content type', async () => {
  await withServer({}, async (server) => {
    const r = await request(server.url, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), registry.contentType);
    assert.equal(r.body, BODY);
    const q = await request(server.url, '/metrics?name[]=x_total');
    assert.equal(q.status, 200);
    assert.equal(q.body, BODY);
  });
});

test('binds to loopback 127.0.0.1 by default and reports the bound port', async () => {
  await withServer({}, async (server) => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });
});

test('/healthz: 200 with a JSON body when healthy, 503 when not or when the check throws', async () => {
  let report: HealthReport = { ok: true, details: { peersUp: 2 } };
  let fail = false;
  const log = recordingLogger();
  const health = async (): Promise<HealthReport> => {
    if (fail) throw new IroError('ERR_STATE', 'dataplane stopped');
    return report;
  };
  await withServer({ health, log }, async (server) => {
    let r = await request(server.url, '/healthz');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { ok: true, details: { peersUp: 2 } });

    report = { ok: false, details: { reason: 'no SA for peer home' } };
    r = await request(server.url, '/healthz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { ok: false, details: { reason: 'no SA for peer home' } });

    report = { ok: true };
    r = await request(server.url, '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { ok: true });

    fail = true;
    r = await request(server.url, '/healthz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { ok: false, error: 'dataplane stopped' });
    assert.deepEqual(log.lines.filter((l) => l.level === 'warn').map((l) => l.msg), ['health check failed']);
  });
});

test('unknown paths get 404, other methods 405 with Allow, HEAD gets headers only', async () => {
  await withServer({}, async (server) => {
    for (const path of ['/', '/metrics/', '/metricsx', '/healthz/x', '/favicon.ico']) {
      assert.equal((await request(server.url, path)).status, 404, path);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/metrics', '/healthz']) {
        const r = await request(server.url, path, method);
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get('allow'), 'GET, HEAD');
      }
    }
    const head = await request(server.url, '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers.get('content-type'), registry.contentType);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(BODY)));
  });
});

test('a registry that fails gives 500 and an error log line', async () => {
  const log = recordingLogger();
  const broken: ExpositionSource = {
    contentType: registry.contentType,
    metrics: async () => {
      throw new IroError('ERR_STATE', 'source broke');
    },
  };
  await withServer({ registry: broken, log }, async (server) => {
    const r = await request(server.url, '/metrics');
    assert.equal(r.status, 500);
    assert.match(r.body, /source broke/);
    assert.deepEqual(log.lines.filter((l) => l.level === 'error').map((l) => l.msg), ['metrics scrape failed']);
  });
});

test('IPv6 loopback: bracketed URL, served over IPv6 only', async () => {
  await withServer({ host: '::1' }, async (server) => {
    assert.equal(server.host, '::1');
    assert.equal(server.url, `http://[::1]:${server.port}`);
    const r = await request(server.url, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.body, BODY);
    assert.equal(await connects('127.0.0.1', server.port), false);
  });
});

test('a port in use fails with ERR_IO naming the address and the Metrics key', async () => {
  await withServer({}, async (first) => {
    await assert.rejects(
      startMetricsServer({ host: '127.0.0.1', port: first.port, registry, health: () => ({ ok: true }), log: silentLogger }),
      (err: unknown) => {
        assert.ok(err instanceof IroError);
        assert.equal(err.code, 'ERR_IO');
        assert.ok(err.message.includes(`127.0.0.1:${first.port}`), err.message);
        assert.ok(err.message.includes('`Metrics =`'), err.message);
        assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
        return true;
      },
    );
    assert.equal((await request(first.url, '/metrics')).status, 200, 'the first server is unaffected');
  });
  await withServer({ host: '::1' }, async (first) => {
    await assert.rejects(
      startMetricsServer({ host: '::1', port: first.port, registry, health: () => ({ ok: true }), log: silentLogger }),
      (err: unknown) => err instanceof IroError && err.code === 'ERR_IO' && err.message.includes(`[::1]:${first.port}`),
    );
  });
});

test('an address no interface has fails with ERR_IO', async () => {
  await assert.rejects(
    startMetricsServer({ host: '192.0.2.1', port: 0, registry, health: () => ({ ok: true }), log: silentLogger }),
    (err: unknown) => err instanceof IroError && err.code === 'ERR_IO' && err.message.includes('192.0.2.1:0') && err.message.includes('`Metrics =`'),
  );
});

test('options are validated up front', async () => {
  const base = { registry, health: () => ({ ok: true }), log: silentLogger };
  await assert.rejects(startMetricsServer({ ...base, port: 70000 }), { name: 'RangeError', message: /options\.port/ });
  await assert.rejects(startMetricsServer({ ...base, port: 1.5 }), { name: 'RangeError', message: /options\.port/ });
  await assert.rejects(startMetricsServer({ ...base, port: 0, host: '' }), { name: 'TypeError', message: /options\.host/ });
  await assert.rejects(startMetricsServer({ ...base, port: 0, registry: {} as ExpositionSource }), { name: 'TypeError', message: /options\.registry/ });
  await assert.rejects(startMetricsServer({ ...base, port: 0, health: undefined as unknown as () => HealthReport }), {
    name: 'TypeError',
    message: /options\.health/,
  });
});

test('close() ends keep-alive connections and frees the port', async () => {
  const server = await startMetricsServer({ port: 0, registry, health: () => ({ ok: true }), log: silentLogger });
  assert.equal((await request(server.url, '/metrics')).status, 200);
  assert.equal((await request(server.url, '/healthz')).status, 200);
  await server.close();
  assert.equal(await connects('127.0.0.1', server.port), false);
  const again = await startMetricsServer({ port: server.port, registry, health: () => ({ ok: true }), log: silentLogger });
  assert.equal(again.port, server.port);
  await again.close();
});
