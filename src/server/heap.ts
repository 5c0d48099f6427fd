/**
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
