/**
 * Hostile HTTP against the broker as `startBroker` builds it (every plugin
 * main.ts wires: CORS, security headers, rate limit, metrics): method and
 * path fuzzing, CORS closed by default, no stack trace or internal path in
 * any answer, and no query token in any log line — with
 * `server.allowQueryToken` on, the riskiest setting.
 *
 * Checked by disabling: with a CORS plugin answering any origin, the CORS
 * test fails; with the request URL added to the completion log line of
 * plugins/request-id.ts, the log test fails; with the error's stack added to
 * error bodies, the last test fails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/server/main.ts';
import { testConfig } from './helpers.ts';
import { captureLogger } from './http.ts';
import { type RawExchange, rawBody, rawExchange, rawHeader } from './socket.ts';

/** Routes and the methods each answers (HEAD comes with every GET). */
const ROUTES: Record<string, string[]> = {
  '/credentials/mint': ['POST'],
  '/credentials/keys': ['GET', 'HEAD'],
  '/credentials/idp-providers': ['GET', 'HEAD'],
  '/health': ['GET', 'HEAD'],
  '/health/live': ['GET', 'HEAD'],
  '/health/ready': ['GET', 'HEAD'],
  '/metrics': ['GET', 'HEAD'],
};
/** Methods fastify knows but no route answers: 405 with Allow. */
const OTHER_METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'TRACE',
  'OPTIONS',
  'PROPFIND',
  'SEARCH',
  'PURGE',
];
/** Request lines Node's parser (or fastify's router) refuses: 400. */
const UNPARSABLE_METHODS = ['FOO', 'get', 'G\tET', 'QUERY'];

const QUERY_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.cXVlcnktdG9rZW4tbWFya2Vy.c2lnbmF0dXJlLW1hcmtlcg';
const LEAKS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat (?:async )?[\w$.<>]+ \(|\n\s+at /],
  ['a source path', /\.(?:ts|js|mjs|cjs):\d+/],
  ['node_modules', /node_modules/],
  ['the working directory', new RegExp(process.cwd().replace(/[/\\.]/g, '\\$&'))],
  ['a file URL', /file:\/\//],
  ['an error class name', /\b[A-Z]\w*Error\b/],
];

describe('hostile HTTP input', () => {
  let broker: RunningBroker;
  let port: number;
  const { lines, logger } = captureLogger();
  const answers: Array<[string, RawExchange]> = [];

  async function send(label: string, request: string, headOnly = false): Promise<RawExchange> {
    const res = await rawExchange(port, { chunks: [request], untilResponse: true, headOnly, waitMs: 2000 });
    answers.push([label, res]);
    return res;
  }

  before(async () => {
    const config = testConfig({ server: { allowQueryToken: true } });
    config.accessProviders = config.accessProviders.filter((p) => p.type === 'aws-sts' || p.type === 'minio');
    config.clientIdentities = [];
    config.brokerIdp.tokenEndpoint = 'https://127.0.0.1:9/token';
    broker = await startBroker({ config, host: '127.0.0.1', port: 0, logger });
    port = Number(new URL(broker.url).port);
  });
  after(async () => {
    broker.app.server.closeAllConnections();
    await broker.close();
  });

  test('answers every other method on each route with 405 and Allow, in the error format', async () => {
    for (const [route, allowed] of Object.entries(ROUTES)) {
      for (const method of OTHER_METHODS.filter((m) => !allowed.includes(m))) {
        const res = await send(`${method} ${route}`, `${method} ${route} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal(res.status, 405, `${method} ${route}`);
        assert.equal((rawBody(res.text) as { error: string }).error, 'METHOD_NOT_ALLOWED');
        assert.deepEqual(rawHeader(res.text, 'allow')?.split(', ').sort(), [...allowed].sort());
      }
    }
  });

  test('answers methods that are not HTTP tokens, or unknown to the router, with 400', async () => {
    for (const route of Object.keys(ROUTES)) {
      for (const method of UNPARSABLE_METHODS) {
        const res = await send(`${method} ${route}`, `${method} ${route} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal(res.status, 400, `${JSON.stringify(method)} ${route}`);
      }
    }
  });

  test('answers unknown, traversal and encoded paths with 404 NOT_FOUND, undecodable ones with 400', async () => {
    const notFound = [
      '/',
      '/credentials',
      '/credentials/../health',
      '/credentials/%2e%2e/health',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/credentials%2Fmint',
      '//credentials/mint',
      '/credentials/mint/',
      '/CREDENTIALS/KEYS',
      '/health;jsessionid=x',
      '/health%00',
      '/health%2F..%2F..%2Fetc%2Fpasswd',
      '/.env',
      '/admin',
      `/${'a'.repeat(4000)}`,
      '*',
    ];
    for (const path of notFound) {
      const res = await send(`GET ${path}`, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(res.status, 404, path.slice(0, 60));
      assert.equal((rawBody(res.text) as { error: string }).error, 'NOT_FOUND');
    }
    for (const path of ['/health/%', '/credentials/keys%zz', '/%c0%af']) {
      const res = await send(`GET ${path}`, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(res.status, 400, path);
      assert.equal((rawBody(res.text) as { error: string }).error, 'INVALID_REQUEST');
    }
  });

  test('sends no CORS header to any origin by default, preflights included', async () => {
    const origins = ['https://evil.example', 'null', 'http://localhost', 'https://app.example.com', '*'];
    for (const origin of origins) {
      const requests = [
        `GET /credentials/idp-providers HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\n\r\n`,
        `OPTIONS /credentials/mint HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n`,
        `POST /credentials/mint HTTP/1.1\r\nHost: x\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      ];
      for (const request of requests) {
        const res = await send(`CORS ${origin}`, request);
        assert.ok(res.status !== undefined && res.status < 500, `${origin}: ${res.status}`);
        const head = res.text.slice(0, res.text.indexOf('\r\n\r\n')).toLowerCase();
        assert.ok(!head.includes('access-control-'), `${origin} got a CORS header:\n${head}`);
      }
    }
  });

  test('answers hostile bodies and headers in the error format', async () => {
    const post = (headers: string, body: string) =>
      `POST /credentials/mint HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const json = 'Content-Type: application/json\r\n';
    const corpus: Array<[string, number]> = [
      [post(json, '{"keys":['), 400],
      [post(json, '{"keys":["A"],"__proto__":{"admin":true}}'), 400],
      [post(json, '{"keys":["A"],"constructor":{"prototype":{"admin":true}}}'), 400],
      [post(json, '{"keys":["A"],"duration":1e400}'), 400],
      [post(json, `{"keys":${'['.repeat(5000)}${']'.repeat(5000)}}`), 400],
      [post(json, '\u00ef\u00bb\u00bf{"keys":["A"]}'), 400],
      [post('Content-Type: text/xml\r\n', '<keys/>'), 415],
      [post('Content-Type: application/x-www-form-urlencoded\r\n', 'keys=A'), 415],
      [post(`${json}Authorization: Bearer a b\r\n`, '{"keys":["A"]}'), 401],
      [post(`${json}Authorization: Bearer ${'\u00ff'.repeat(10)}\r\n`, '{"keys":["A"]}'), 401],
      [post(`${json}Authorization: Basic YTpi\r\n`, '{"keys":["A"]}'), 401],
      [post(json, '{"keys":["A"],"oidcToken":{"$ne":null}}'), 400],
    ];
    for (const [request, status] of corpus) {
      const res = await send('body', request);
      assert.equal(res.status, status, request.slice(0, 160));
      assert.equal(typeof (rawBody(res.text) as { error?: unknown }).error, 'string');
    }
  });

  test('never logs a query token, whatever the route, method or failure', async () => {
    const t = QUERY_TOKEN;
    const requests = [
      `GET /credentials/keys?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /credentials/keys?x=1&token=${t}&token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /credentials/keys?token=${t} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t}\r\n\r\n`,
      `POST /credentials/mint?token=${t} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      `PUT /credentials/keys?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /nowhere?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /credentials/keys%?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /health?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /credentials/keys?token=${t}&pad=${'p'.repeat(40_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ];
    for (const request of requests) await send('query token', request);
    await send('query token HEAD', `HEAD /credentials/keys?token=${t} HTTP/1.1\r\nHost: x\r\n\r\n`, true);
    await new Promise((resolve) => setImmediate(resolve));
    const text = lines.join('');
    assert.ok(lines.length > requests.length, 'the requests were logged');
    for (const part of t.split('.'))
      assert.ok(!text.includes(part), 'a query token segment reached the logs');
  });

  test('never puts a stack trace, file path or error class in any answer of the corpus above', () => {
    assert.ok(answers.length > 120, `${answers.length} answers`);
    for (const [label, res] of answers) {
      assert.notEqual(res.status, 500, `${label} caused a 500`);
      for (const [what, pattern] of LEAKS) {
        assert.ok(!pattern.test(res.text), `${label}: the answer holds ${what}:\n${res.text.slice(0, 400)}`);
      }
    }
  });
});
