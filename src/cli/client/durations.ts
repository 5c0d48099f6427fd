/** Human renderings of durations for `list-keys` and `validate`. */

/** A key's maximum duration: `15m`, `1h`, `1h30m` for whole minutes, else seconds (`90s`). */
export function formatMaxDuration(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) return '-';
  if (seconds === 0 || seconds % 60 !== 0) return `${seconds}s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = (seconds % 3600) / 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}`;
}

/** A span in its two largest units, e.g. `4m 12s`, `3h`, `2d 5h`; `ms` may be negative. */
export function formatSpan(ms: number): string {
  let rest = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  const kept = parts.filter((part, index) => index === 0 || !part.startsWith('0'));
  return kept.length > 0 ? kept.join(' ') : '0s';
}
