/**
 * The broker's two heap settings, applied by `voidkey serve`: how far the
 * heap may grow between full collections, and one full collection once the
 * config is loaded ({@link collectGarbage}).
 *
 * How far V8 lets the heap grow between full collections. By default it
 * grows the old generation up to about four times what survived the last
 * one; a broker under load allocates fast (~180 KB per mint, mostly the AWS
 * SDK's) while little of it lives, so the heap climbs to several times its
 * live size before V8 collects. Growing by half the live size instead keeps
 * peak RSS ~25–85 MiB lower (1 and 3 keys, docs/performance.md) for no
 * measurable CPU: a full collection of a ~27 MiB live heap is cheap, and
 * the number per second follows the promotion rate, not the live size.
 *
 * An operator's own `node --heap-growing-percent=N` wins. The flag is read
 * by V8 whenever it sets the next collection's limit, so setting it at start
 * applies to the whole run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The broker's default, percent of the live heap. */
export const HEAP_GROWING_PERCENT = 50;

/** The V8 flag to set, or undefined when the process was started with its own. */
export function heapGrowthFlag(execArgv: readonly string[]): string | undefined {
  const given = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return given ? undefined : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Applies {@link heapGrowthFlag} to this process. */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  const flag = heapGrowthFlag(execArgv);
  if (flag) setFlagsFromString(flag);
}

/**
 * One full garbage collection, for the moment after start-up work that
 * leaves a lot of dead heap behind. Loading a large config does (the YAML
 * document, substitution and validation: ~220 MB allocated for 10,000
 * identities), and with the growth limit V8 sets while the heap is that
 * large it may not collect the old generation for minutes: under load such
 * a broker kept ~250 MiB of dead heap, and its young-generation collections
 * cost ~25 % more per request beside it (docs/performance.md). Node offers
 * no collection call without `--expose-gc`, so the flag is set for the
 * moment and `gc` is taken from a fresh context; the main context's
 * globals are left as they were.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}
