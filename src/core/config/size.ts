/** Sizes as written in the config: `100MB`, `512KiB`, `1.5GB` or a byte count. */

const UNIT_BYTES: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KB: 1024,
  KIB: 1024,
  MB: 1024 ** 2,
  MIB: 1024 ** 2,
  GB: 1024 ** 3,
  GIB: 1024 ** 3,
};

const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$/;

/**
 * Bytes in `size`: a non-negative integer is bytes; a string takes the binary
 * units B, KB/KiB, MB/MiB, GB/GiB (so `100MB` = 100 × 1024² bytes, case
 * ignored). Undefined when unparseable or not at least one byte.
 */
export function parseSize(size: string | number): number | undefined {
  if (typeof size === 'number') return Number.isInteger(size) && size >= 1 ? size : undefined;
  const m = SIZE.exec(size.trim());
  if (!m) return undefined;
  const unit = UNIT_BYTES[(m[2] as string).toUpperCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes >= 1 ? bytes : undefined;
}
