/**
 * Minting as `mint` and `exec` do it: the keys asked for (or every key the
 * broker lists), in requests of at most 10, all or nothing, and no answer that
 * sets a variable able to run code on this machine.
 */
import { isDangerousEnvName } from '../../core/env-names.ts';
import type { MintResponse } from '../../core/mint/index.ts';
import type { BrokerClient } from './broker.ts';
import { safeText } from './broker-errors.ts';
import { CliError, EXIT } from './exit.ts';
import type { Minted } from './formats.ts';
import type { Session } from './session.ts';

/** Keys per POST /credentials/mint (the API's limit). */
const BATCH = 10;

/** Every key name `GET /credentials/keys` lists for the token; exit 4 when there is none. */
export async function allKeys(broker: BrokerClient, token: string): Promise<string[]> {
  const answer = await broker.listKeys(token);
  if (answer.keys.length === 0) {
    throw new CliError(
      EXIT.DENIED,
      `--all: the broker grants no keys to subject '${answer.subject.slice(0, 255)}'`,
    );
  }
  return answer.keys.map((key) => key.name);
}

/** Mints `keys` in requests of at most 10; any failure aborts before anything is printed. */
export async function mintAll(
  session: Session,
  first: string,
  keys: string[],
  duration: number | undefined,
): Promise<{ minted: Minted; expiries: Record<string, string> }> {
  const minted: Array<[string, Record<string, string>]> = [];
  const expiries: Record<string, string> = {};
  for (let start = 0; start < keys.length; start += BATCH) {
    const batch = keys.slice(start, start + BATCH);
    // A runner token is fetched afresh per request, for brokers enforcing one-time use.
    const token = start === 0 ? first : await session.tokens.get();
    const answer: MintResponse = await session.broker.mint(token, batch, duration);
    for (const key of batch) {
      const outputs = answer.credentials[key] as Record<string, string>;
      refuseDangerousNames(key, outputs);
      minted.push([key, outputs]);
      expiries[key] = answer.keyExpiresAt[key] ?? answer.expiresAt;
    }
  }
  return { minted, expiries };
}

/** A broker answer must never set a variable that would run code on this machine, whatever the format. */
function refuseDangerousNames(key: string, outputs: Readonly<Record<string, string>>): void {
  const name = Object.keys(outputs).find(isDangerousEnvName);
  if (name !== undefined) {
    throw new CliError(
      EXIT.OUTPUT,
      `key ${key}: the broker's answer sets ${safeText(name).slice(0, 64)}, a variable that changes how shells, loaders or runtimes behave; refused (see 'voidkey help mint')`,
    );
  }
}
