/**
 * A local STS-compatible endpoint for tests, the benchmark and `voidkey dev`.
 * It speaks the real STS Query protocol (form-encoded Action=… in, 2011-06-15
 * XML out), verifies web identity tokens as AWS does (issuer, JWKS
 * signature, audience, expiry), and accepts AssumeRole signed with SigV4 by
 * credentials it issued. Built on jose and node built-ins only, because it
 * ships in the runtime package. It grants any well-formed role unless
 * `allowedRoles` says otherwise: it is a test peer, not a security boundary.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpClient } from '../core/types.ts';
import { readCapped, serveLocal } from './peer.ts';
import { type AllowedRoles, createStsActions, type StsCall } from './sts/actions.ts';
import { errorResponse, StsFault } from './sts/xml.ts';

export type { AllowedRoles, StsCall } from './sts/actions.ts';
export type { StsCaller } from './sts/issued.ts';

/** Options of {@link startStsServer}. */
export interface StsServerOptions {
  /** The OIDC provider URL tokens must carry as `iss`, exactly. */
  issuer: string;
  jwksUri: string;
  /** Client ids; a token's `aud` must contain one. */
  audience: string | string[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Role ARNs that may be assumed, or a trust-policy check; default: any well-formed role. */
  allowedRoles?: AllowedRoles;
  /** Used to fetch the JWKS; default global fetch. */
  http?: HttpClient;
  /** Issued sessions remembered for AssumeRole; default 100,000. */
  maxSessions?: number;
  /**
   * `aws` (default): RoleArn and RoleSessionName required, DurationSeconds ≤ 43200.
   * `minio`: both optional (claim-based policy mode), DurationSeconds ≤ 604800.
   */
  dialect?: 'aws' | 'minio';
}

/** Faults {@link StsServer.failNext} can inject. */
export type InjectedFault = 'Throttling' | 'ServiceUnavailable' | 'AccessDenied';

/** A running STS endpoint. */
export interface StsServer {
  /** `http://HOST:PORT`, the endpoint to configure. */
  url: string;
  close(): Promise<void>;
  /** Requests received; key-set fetches; signature verifications (repeated tokens are not re-verified). */
  stats: { requests: number; jwksFetches: number; tokenVerifications: number };
  /** The last 100 calls that were granted, oldest first. */
  calls: StsCall[];
  /** Answers the next `count` requests (default 1) with this fault. */
  failNext(code: InjectedFault, count?: number): void;
}

const MAX_BODY = 64 * 1024;
const bodyTooLarge = () => new StsFault('RequestEntityTooLarge', 'Request body too large', 413);
const INJECTED: Record<InjectedFault, [number, string]> = {
  Throttling: [400, 'Rate exceeded'],
  ServiceUnavailable: [503, 'Service is unavailable. Please try again later.'],
  AccessDenied: [403, 'Not authorized to perform sts:AssumeRoleWithWebIdentity'],
};

/** Starts the endpoint (127.0.0.1, any free port by default); resolves once it listens. */
export async function startStsServer(options: StsServerOptions): Promise<StsServer> {
  const stats = { requests: 0, jwksFetches: 0, tokenVerifications: 0 };
  const faults: InjectedFault[] = [];
  const actions = createStsActions({ ...options, stats });

  const answer = async (req: IncomingMessage, requestId: string): Promise<string> => {
    const body = await readCapped(req, MAX_BODY, bodyTooLarge);
    const form = formOf(req, body);
    const fault = faults.shift();
    if (fault) throw new StsFault(fault, INJECTED[fault][1], INJECTED[fault][0]);
    const action = form.get('Action');
    if (action === 'AssumeRoleWithWebIdentity') return actions.webIdentity(form, requestId);
    if (action === 'AssumeRole') return actions.assumeRole(req, body, form, requestId);
    if (action === 'GetCallerIdentity') return actions.callerIdentity(req, body, requestId);
    throw new StsFault('InvalidAction', 'Could not find operation for this action.');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    const requestId = randomUUID();
    try {
      send(res, 200, await answer(req, requestId), requestId);
    } catch (err) {
      const fault =
        err instanceof StsFault
          ? err
          : new StsFault('InternalFailure', 'The request processing has failed.', 500);
      send(res, fault.status, errorResponse(fault, requestId), requestId);
    }
  };

  const peer = await serveLocal(handle, options);
  return {
    url: peer.url,
    stats,
    calls: actions.calls,
    failNext(code, count = 1) {
      for (let i = 0; i < count; i++) faults.push(code);
    },
    close: peer.close,
  };
}

function formOf(req: IncomingMessage, body: Buffer): URLSearchParams {
  if (req.method === 'GET') return new URL(req.url ?? '/', 'http://sts').searchParams;
  if (req.method !== 'POST') throw new StsFault('InvalidAction', 'Only GET and POST are supported.');
  return new URLSearchParams(body.toString('utf8'));
}

function send(res: ServerResponse, status: number, xml: string, requestId: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': requestId,
  });
  res.end(xml);
}
