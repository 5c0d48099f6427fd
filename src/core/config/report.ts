/**
 * Collects every problem and warning of one config load, so all of them are
 * reported at once, each as `path.to.field: what is wrong`. It also remembers
 * which strings came from substitution: those are often secrets and are never
 * echoed in a message.
 */

/** One step of a path into the config: a field name or a list index. */
export type PathSegment = string | number;

/** Thrown by `loadConfig` with every problem found; `message` lists them one per line. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  readonly warnings: readonly string[];

  constructor(problems: readonly string[], warnings: readonly string[] = []) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    super(`invalid configuration (${problems.length} ${noun}):\n${problems.join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

const PLAIN_SEGMENT = /^[A-Za-z0-9_-]+$/;

/** `['clientIdentities', 2, 'keys', 'A', 'provider']` → `clientIdentities[2].keys.A.provider`; `(root)` when empty. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_SEGMENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(root)' : out;
}

/**
 * `/full/path: no such file or directory (ENOENT)`: what the system said about
 * a file the config names, so the operator can act on it.
 */
export function systemError(err: unknown, file: string): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const text = typeof message === 'string' ? message : String(err);
  // Node's message is "CODE: description, syscall 'path'"; keep the description.
  const description = text.replace(/^[A-Z0-9_]+: /, '').replace(/, \w+ '.*'$/s, '');
  return `${file}: ${description}${code ? ` (${code})` : ''}`;
}

/** Sentinel left where a substitution failed, so later checks stay quiet about that field. */
export const UNRESOLVED = '\u0000voidkey-unresolved\u0000';

/** Shortest secret worth scrubbing from messages as a second line of defence. */
const MIN_SCRUB_LENGTH = 6;

/** The problems and warnings of one load. */
export class Report {
  private readonly problemList: string[] = [];
  private readonly warningList: string[] = [];
  private readonly blocked = new Set<string>();
  /** Whole strings produced by substitution. */
  readonly substituted = new Set<string>();
  /** Raw values that went into substitutions (environment values, file contents). */
  readonly secrets = new Set<string>();

  /** Adds a problem unless this path (or an ancestor) already has one from an earlier stage. */
  error(path: readonly PathSegment[] | string, text: string): void {
    const where = typeof path === 'string' ? path : formatPath(path);
    if (this.isBlocked(where)) return;
    const line = `${where}: ${text}`;
    if (!this.problemList.includes(line)) this.problemList.push(line);
  }

  /** Adds a warning (`path: text`). */
  warn(path: readonly PathSegment[] | string, text: string): void {
    const where = typeof path === 'string' ? path : formatPath(path);
    const line = `${where}: ${text}`;
    if (!this.warningList.includes(line)) this.warningList.push(line);
  }

  /** Later errors at this path or below it are dropped: one clear message per field. */
  block(path: readonly PathSegment[] | string): void {
    this.blocked.add(typeof path === 'string' ? path : formatPath(path));
  }

  private isBlocked(where: string): boolean {
    for (const b of this.blocked) {
      if (where === b || where.startsWith(`${b}.`) || where.startsWith(`${b}[`)) return true;
    }
    return false;
  }

  /** A value for a message: quoted, or a placeholder when it came from substitution. */
  show(value: unknown): string {
    if (typeof value === 'string' && (this.substituted.has(value) || value.includes(UNRESOLVED))) {
      return '(a substituted value)';
    }
    return JSON.stringify(value) ?? String(value);
  }

  /** True once any problem was reported. */
  get hasProblems(): boolean {
    return this.problemList.length > 0;
  }

  /** Problems, with any substituted secret scrubbed out as a last resort. */
  problems(): string[] {
    return this.problemList.map((p) => this.scrub(p));
  }

  /** Warnings, scrubbed like problems. */
  warnings(): string[] {
    return this.warningList.map((w) => this.scrub(w));
  }

  private scrub(line: string): string {
    let out = line;
    for (const s of this.secrets) {
      if (s.length >= MIN_SCRUB_LENGTH) out = out.split(s).join('***');
    }
    return out;
  }
}
