/** Placeholder until the command lands; replaced by its owner. */
export async function run(_args: string[]): Promise<number> {
  process.stderr.write('voidkey serve: not implemented yet\n');
  return 1;
}
