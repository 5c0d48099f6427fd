/**
 * The registry of every secret value an e2e file used or saw: client
 * secrets, workload and broker tokens, minted credentials. At the end of a
 * file, the broker's captured output is searched for each of them. Each test
 * file runs in its own process, so the registry is per file.
 */

const registry = new Map<string, string>();

/** Remembers `value` under a label (shown on a leak instead of the value). Values under 8 chars are ignored. */
export function registerSecret(label: string, value: string | undefined): void {
  if (value === undefined || value.length < 8) return;
  registry.set(value, label);
  const parts = value.split('.');
  // A JWT's signature (and payload + signature) must not appear on its own either.
  if (parts.length === 3 && parts[2] && parts[2].length >= 16) {
    registry.set(parts[2], `${label} (signature segment)`);
    registry.set(`${parts[1]}.${parts[2]}`, `${label} (payload.signature)`);
  }
}

/** Registers the secret values of a credentials answer `{KEY: {ENV: value}}` (access key ids and regions are not secret). */
export function registerCredentials(credentials: Record<string, Record<string, string>>): void {
  for (const [key, env] of Object.entries(credentials)) {
    for (const [name, value] of Object.entries(env)) {
      if (name !== 'AWS_REGION' && name !== 'AWS_ACCESS_KEY_ID')
        registerSecret(`credential ${key}.${name}`, value);
    }
  }
}

/** How many values are registered (a leak check over an empty registry proves nothing). */
export function registeredCount(): number {
  return registry.size;
}

/** Labels of the registered values found in `output` (the values themselves are never returned). */
export function findLeaks(output: string): string[] {
  const leaks: string[] = [];
  for (const [value, label] of registry) {
    if (output.includes(value)) leaks.push(label);
  }
  return leaks;
}
