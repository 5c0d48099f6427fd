/**
 * Checks a broker config shipped by the kit the way `voidkey config validate`
 * would at the structural level: the real schema (unknown fields refused),
 * then the cross-references SPEC §2 lists. When the real command exists, the
 * tests also run it (see config.test.ts).
 */
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema } from '../../src/core/config/schema.ts';

type AnyConfig = {
  server?: Record<string, unknown>;
  clientIdps?: Array<{ name: string; issuer: string }>;
  accessProviders?: Array<{ name: string; type: string; endpoint?: string }>;
  clientIdentities?: Array<{ idp: string; subject: string; keys: Record<string, { provider: string }> }>;
  brokerIdp?: { issuer: string };
};

/** Problems of a config (empty when it is acceptable), one `path: what` line each. */
export function configProblems(raw: unknown): string[] {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw));
  const problems = [...Value.Errors(ConfigSchema, withDefaults)].map((e) => `${e.path}: ${e.message}`);
  const c = raw as AnyConfig;
  if (c.server?.trustProxy === true) problems.push('server.trustProxy: true is refused');
  const idps = new Set((c.clientIdps ?? []).map((i) => i.name));
  const providers = new Set((c.accessProviders ?? []).map((p) => p.name));
  const urls = [c.brokerIdp?.issuer, ...(c.clientIdps ?? []).map((i) => i.issuer)];
  for (const p of c.accessProviders ?? []) {
    if (!['aws-sts', 'minio', 'gcp', 'azure'].includes(p.type)) problems.push(`provider ${p.name}: type`);
    urls.push(p.endpoint);
  }
  for (const u of urls)
    if (u?.startsWith('http://')) problems.push(`${u}: http:// needs allowInsecureIssuers`);
  (c.clientIdentities ?? []).forEach((id, i) => {
    if (!idps.has(id.idp)) problems.push(`clientIdentities[${i}].idp: unknown idp ${id.idp}`);
    for (const [key, k] of Object.entries(id.keys)) {
      if (!providers.has(k.provider)) problems.push(`clientIdentities[${i}].keys.${key}.provider: unknown`);
    }
  });
  return problems;
}

/** The `${VAR}` names a config reads from the environment (`${file:…}` excluded). */
export function envVarsOf(configText: string): string[] {
  const names = [...configText.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}/g)]
    .filter((m) => m[2] === undefined)
    .map((m) => m[1] as string);
  return [...new Set(names)].sort();
}
