#!/usr/bin/env node
/**
 * The `voidkey` executable: picks the command and loads only its module, so
 * `voidkey version` starts fast. Each command module exports
 * `run(args): Promise<number>` returning the exit code.
 */
import { rememberParent } from './orphan.ts';

// First of all: under npx, the shell that started this process can go away while a command still starts.
rememberParent();

type Command = { load: () => Promise<{ run(args: string[]): Promise<number> }>; summary: string };

const COMMANDS: Record<string, Command> = {
  serve: { load: () => import('./serve.ts'), summary: 'run the broker' },
  config: { load: () => import('./config.ts'), summary: 'config validate: check a broker config' },
  policy: { load: () => import('./policy.ts'), summary: 'policy test / explain: check access rules offline' },
  dev: { load: () => import('./dev.ts'), summary: 'the zero-setup development sandbox' },
  mint: { load: () => import('./mint.ts'), summary: 'mint credentials for named keys' },
  exec: {
    load: () => import('./exec.ts'),
    summary: 'run a command with minted credentials in its environment',
  },
  'list-keys': { load: () => import('./list-keys.ts'), summary: 'list the keys your identity may mint' },
  validate: { load: () => import('./validate.ts'), summary: 'show your token and what the broker grants' },
  version: { load: () => import('./version.ts'), summary: 'print the version' },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: voidkey <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'voidkey help <command>' (or 'voidkey <command> --help') for a command's options and exit codes.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] !== undefined) {
    const topic = COMMANDS[rest[0]];
    if (!topic) return unknownCommand(rest[0]);
    return (await topic.load()).run(['--help']);
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') return (await COMMANDS.version.load()).run([]);
  const command = COMMANDS[name];
  if (!command) return unknownCommand(name);
  return (await command.load()).run(rest);
}

function unknownCommand(name: string): number {
  const shown = name.length > 24 ? `${name.slice(0, 12)}…` : name;
  process.stderr.write(`voidkey: unknown command '${shown}' (see 'voidkey help')\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Last resort: one line, no stack trace (it could carry request data).
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`voidkey: ${message}\n`);
    process.exitCode = 1;
  },
);
