/** Small helpers shared by the cross-checks, which run on data the schema may have rejected. */
import { isMap } from './merge.ts';
import { type PathSegment, type Report, UNRESOLVED } from './report.ts';
import { PROVIDER_TYPES, type ProviderType } from './schema.ts';

/** A mapping read loosely: cross-checks guard every field they use. */
export type Loose = Record<string, unknown>;

/** The map entries of a list with their indices (anything else in the list is the schema's problem). */
export function entries(value: unknown): [number, Loose][] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item, i): [number, Loose][] => (isMap(item) ? [[i, item]] : []));
}

/** `value` as a map, or an empty one. */
export function map(value: unknown): Loose {
  return isMap(value) ? value : {};
}

/** A usable string (not one whose substitution failed), else undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && !value.includes(UNRESOLVED) ? value : undefined;
}

/** True when `value` names a provider type this build knows. */
export function isProviderType(value: unknown): value is ProviderType {
  return (PROVIDER_TYPES as readonly unknown[]).includes(value);
}

/** `a minio`, `an aws-sts`. */
export function withArticle(type: string): string {
  return /^[aeiou]/i.test(type) ? `an ${type}` : `a ${type}`;
}

/** Options of {@link checkUrl}. */
export interface UrlRule {
  insecureOk: boolean;
  /** Issuers must not carry a query or fragment. */
  issuer?: boolean;
  /** Endpoints that paths are appended to must not carry a query or fragment either. */
  noQuery?: boolean;
}

/** Reports a value that is not an absolute https URL (http only with `allowInsecureIssuers`). */
export function checkUrl(report: Report, path: PathSegment[], value: unknown, rule: UrlRule): void {
  const text = str(value);
  if (text === undefined) return;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    report.error(path, 'must be an absolute https:// URL');
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    report.error(path, 'must be an https:// URL');
  } else if (url.protocol === 'http:' && !rule.insecureOk) {
    report.error(path, 'http:// is refused unless server.allowInsecureIssuers is true (development only)');
  } else if (
    (rule.issuer || rule.noQuery) &&
    (url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#'))
  ) {
    report.error(
      path,
      rule.issuer ? 'an issuer must not have a query or fragment' : 'must not have a query or fragment',
    );
  }
}

/** Reports the later entries of `items` whose `field` repeats an earlier one. */
export function checkUnique(
  report: Report,
  section: string,
  items: [number, Loose][],
  field: string,
  text: (first: number) => string,
): void {
  const seen = new Map<string, number>();
  for (const [i, item] of items) {
    const value = str(item[field]);
    if (value === undefined) continue;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, i);
    else report.error([section, i, field], text(first));
  }
}
