import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import { createStsClient } from '../../../src/providers/aws-sts/client.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const THROTTLED = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
<RequestId>5a6b7c8d-0000-4000-8000-000000000001</RequestId></ErrorResponse>`;

describe('STS client: the SDK retry step', () => {
  let server: Server;
  let endpoint: string;
  const seen: IncomingHttpHeaders[] = [];

  before(async () => {
    // Throttles everything: a retrying client would come back.
    server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(THROTTLED);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const sdkRetryHeaders = (headers: IncomingHttpHeaders | undefined) =>
    Object.keys(headers ?? {}).filter((name) => name.startsWith('amz-sdk-'));

  test('an unsigned call goes out once, without the retry step’s headers', async () => {
    const sts = createStsClient({ endpoint, httpTimeout: 2000 });
    seen.length = 0;
    await assert.rejects(
      sts.assumeRoleWithWebIdentity(
        { RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 's', WebIdentityToken: 't' },
        new AbortController().signal,
      ),
      (err: Error) => err.name === 'Throttling',
    );
    assert.equal(seen.length, 1);
    assert.deepEqual(sdkRetryHeaders(seen[0]), []);
    // The step that remains still names the SDK to AWS (CloudTrail's userAgent).
    assert.match(seen[0]?.['user-agent'] ?? '', /aws-sdk-js\//);
  });

  test('a signed call goes out once, without the retry step’s headers', async () => {
    const sts = createStsClient({ endpoint, httpTimeout: 2000 });
    seen.length = 0;
    const hop = { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' };
    await assert.rejects(
      sts.withCredentials(hop, () =>
        sts.client.send(
          new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 's' }),
        ),
      ),
      (err: Error) => err.name === 'Throttling',
    );
    assert.equal(seen.length, 1);
    assert.deepEqual(sdkRetryHeaders(seen[0]), []);
    assert.match(seen[0]?.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE\//);
  });
});
