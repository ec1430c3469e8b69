/**
 * A tiny HTTP GET client run as its own process inside a namespace (`ip netns exec NS node
 * nsfetch.js URL TIMEOUT_MS`), because the harness lives in the root namespace and cannot reach a
 * namespace's loopback, where iro's /metrics and /healthz and the private Prometheus listen.
 * curl is not on a fresh machine; node always is.
 *
 * Prints one JSON line: {"status":N,"body":"..."} or {"error":"..."}; exits 0 either way, so the
 * caller tells "not listening yet" from "the client broke".
 */
import { request } from 'node:http';

function main(argv: readonly string[]): void {
  const url = argv[0];
  const timeoutMs = Number(argv[1] ?? '5000');
  if (url === undefined || !(timeoutMs > 0)) {
    process.stderr.write('usage: nsfetch.js URL [TIMEOUT_MS]\n');
    process.exitCode = 2;
    return;
  }
  const print = (value: object): void => void process.stdout.write(JSON.stringify(value) + '\n');
  const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => print({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', (err) => print({ error: err.message }));
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (err) => print({ error: err.message }));
  req.end();
}

main(process.argv.slice(2));
