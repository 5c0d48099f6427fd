/**
 * `/credentials/*`: mint, list keys, list client IdPs. Each handler takes the
 * current CredentialBroker once, so a config reload never changes the rules
 * halfway through a request. A mint's refusals, in order (docs/errors.md):
 * request shape (schema, 400) → token source (400/401) → token (401) →
 * per-subject limit (429) → policy, durations (403/400) → audit file
 * unwritable (503, before any upstream call) → replay, provider
 * (401/502/503) → audit (503); the per-IP limit (429) ran before the route.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BrokerError, ServiceUnavailableError } from '../../core/errors.ts';
import type { CredentialBroker, MintError, MintedKeyAudit, MintResult } from '../../core/mint/index.ts';
import type { VerifiedToken } from '../../core/types.ts';
import { presentedToken, queryToken } from './token.ts';

/** Key names a mint request may name. */
export const KEY_NAME_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

/** The `keys` of a mint or explain request: 1 to 10 distinct key names. */
const KeysSchema = Type.Array(Type.String({ pattern: KEY_NAME_PATTERN }), {
  minItems: 1,
  maxItems: 10,
  uniqueItems: true,
});

/**
 * Body of `POST /credentials/mint`. Duplicate key names are refused (400)
 * rather than merged: a request naming a key twice is a client bug. The
 * token has no length limit here on purpose — an oversized token is the
 * verifier's 401 `token_too_large`, not a schema 400.
 */
export const MintBodySchema = Type.Object(
  {
    keys: KeysSchema,
    oidcToken: Type.Optional(Type.String()),
    duration: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
type MintBody = Static<typeof MintBodySchema>;

/** Body of `POST /credentials/explain`: the keys to explain, and the token as for a mint. */
export const ExplainBodySchema = Type.Object(
  {
    keys: KeysSchema,
    oidcToken: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
type ExplainBody = Static<typeof ExplainBodySchema>;

/**
 * Hooks around authentication and minting, for audit and metrics. A hook
 * that throws a BrokerError fails the request with it (e.g. 503 from
 * `mintStarting` or `minted` when the audit record cannot be written). A
 * mint refused by the per-subject limit is a `mintFailed` with that 429 and
 * nothing discarded; one refused by `mintStarting` a `mintFailed` with its error.
 */
export interface RequestObserver {
  authenticated?(request: FastifyRequest, verified: VerifiedToken): void | Promise<void>;
  authenticationFailed?(request: FastifyRequest, error: unknown): void | Promise<void>;
  /** After the policy allowed the mint, before any upstream call or one-time-token claim. */
  mintStarting?(request: FastifyRequest, event: MintEvent): void | Promise<void>;
  minted?(request: FastifyRequest, event: MintEvent & { result: MintResult }): void | Promise<void>;
  mintFailed?(
    request: FastifyRequest,
    event: MintEvent & { error: unknown; discarded: readonly MintedKeyAudit[] },
  ): void | Promise<void>;
}

/** The per-subject limit: resolves while the identity is within it, else throws 429. */
export type SubjectLimiter = (verified: VerifiedToken) => Promise<void>;

/** What every mint event carries. */
export interface MintEvent {
  verified: VerifiedToken;
  keys: readonly string[];
}

/** What the credential routes need from the app. */
export interface CredentialRouteOptions {
  current: () => CredentialBroker;
  observer: RequestObserver;
  /** The per-subject limit of mints (default: none). */
  limitSubject?: SubjectLimiter | undefined;
}

/**
 * Registers `POST /credentials/mint`, `GET /credentials/keys`, `POST /credentials/explain`
 * (404 unless `server.explain`), `GET /credentials/idp-providers`.
 */
export function registerCredentialRoutes(app: FastifyInstance, options: CredentialRouteOptions): void {
  const { current, observer, limitSubject } = options;

  async function authenticate(
    broker: CredentialBroker,
    request: FastifyRequest,
    token: string,
    deadline: Deadline,
  ) {
    try {
      const verified = await untilDeadline(broker.authenticate(token, deadline.signal), deadline);
      await observer.authenticated?.(request, verified);
      return verified;
    } catch (error) {
      await observer.authenticationFailed?.(request, error);
      throw error;
    }
  }

  async function withinSubjectLimit(request: FastifyRequest, verified: VerifiedToken, body: MintBody) {
    if (!limitSubject) return;
    try {
      await limitSubject(verified);
    } catch (error) {
      await observer.mintFailed?.(request, { verified, keys: body.keys, error, discarded: [] });
      throw error;
    }
  }

  async function mintKeys(
    broker: CredentialBroker,
    request: FastifyRequest,
    verified: VerifiedToken,
    body: MintBody,
    deadline: Deadline,
  ): Promise<MintResult> {
    let result: MintResult;
    const beforeUpstream = async () => observer.mintStarting?.(request, { verified, keys: body.keys });
    try {
      result = await untilDeadline(
        broker.mint(verified, { keys: body.keys, duration: body.duration, beforeUpstream }, deadline.signal),
        deadline,
      );
    } catch (error) {
      await observer.mintFailed?.(request, {
        verified,
        keys: body.keys,
        error,
        discarded: (error as Partial<MintError>).discarded ?? [],
      });
      throw error;
    }
    await observer.minted?.(request, { verified, keys: body.keys, result });
    return result;
  }

  app.post('/credentials/mint', { schema: { body: MintBodySchema } }, async (request) => {
    const broker = current();
    const body = request.body as MintBody;
    const token = presentedToken({ authorization: request.headers.authorization, body: body.oidcToken });
    const deadline = requestDeadline(broker.config.server.requestTimeout);
    try {
      const verified = await authenticate(broker, request, token, deadline);
      await withinSubjectLimit(request, verified, body);
      return (await mintKeys(broker, request, verified, body, deadline)).response;
    } finally {
      deadline.clear();
    }
  });

  app.get('/credentials/keys', async (request) => {
    const broker = current();
    const query = broker.config.server.allowQueryToken ? queryToken(request.query) : undefined;
    const token = presentedToken({ authorization: request.headers.authorization, query });
    const deadline = requestDeadline(broker.config.server.requestTimeout);
    try {
      return broker.listKeys(await authenticate(broker, request, token, deadline));
    } finally {
      deadline.clear();
    }
  });

  // Authenticates like a mint but never claims a one-time token: explaining is not minting.
  const explainOff = async () => {
    // Before validation: with explain off, the route answers exactly like one that does not exist.
    if (!current().config.server.explain) throw new BrokerError('NOT_FOUND');
  };
  app.post(
    '/credentials/explain',
    { schema: { body: ExplainBodySchema }, preValidation: explainOff },
    async (request) => {
      const broker = current();
      const body = request.body as ExplainBody;
      const token = presentedToken({ authorization: request.headers.authorization, body: body.oidcToken });
      const deadline = requestDeadline(broker.config.server.requestTimeout);
      try {
        return broker.explain(await authenticate(broker, request, token, deadline), body.keys);
      } finally {
        deadline.clear();
      }
    },
  );

  app.get('/credentials/idp-providers', async () => current().idpProviders());
}

/*
 * One deadline per request (`server.requestTimeout`): an AbortSignal handed
 * to the use cases (and from them to every outbound call), and a race so a
 * dependency that ignores the signal still cannot hold the answer past it.
 */

/** A request's deadline; `clear` it when the request is done. */
interface Deadline {
  signal: AbortSignal;
  /** Rejects with the 503 once the deadline passes; never settles if cleared first. */
  readonly expired: Promise<never>;
  clear(): void;
}

/**
 * A deadline `ms` milliseconds from now. A plain timer rather than
 * AbortSignal.timeout: it is cleared as soon as the request ends, and keeps
 * the process alive while pending. (Not fastify's `request.signal`: without
 * `handlerTimeout` it aborts once a POST body has been read.)
 */
function requestDeadline(ms: number): Deadline {
  const controller = new AbortController();
  let expire: (error: ServiceUnavailableError) => void = () => {};
  const expired = new Promise<never>((_resolve, reject) => {
    expire = reject;
  });
  // Nobody may be racing it when it fires.
  expired.catch(() => {});
  const timer = setTimeout(() => {
    const error = deadlinePassed();
    controller.abort(error);
    expire(error);
  }, ms);
  return { signal: controller.signal, expired, clear: () => clearTimeout(timer) };
}

function deadlinePassed(): ServiceUnavailableError {
  return new ServiceUnavailableError({
    message: 'The request did not complete within its deadline',
    details: { reason: 'deadline_exceeded' },
  });
}

/**
 * `work`, or a 503 ServiceUnavailableError once the deadline passes,
 * whichever comes first. (A race on the deadline's own promise: no abort
 * listener to add and remove per call.)
 */
function untilDeadline<T>(work: Promise<T>, deadline: Pick<Deadline, 'signal' | 'expired'>): Promise<T> {
  if (deadline.signal.aborted) {
    work.catch(() => {});
    return Promise.reject(deadline.signal.reason);
  }
  return Promise.race([work, deadline.expired]);
}
