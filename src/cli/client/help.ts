/** --help text shared by the client commands. */
import { exitCodesHelp } from './exit.ts';

export { exitCodesHelp };

const GLOBAL_FLAGS = `Global options:
  --broker-url URL    the broker (env VOIDKEY_BROKER_URL, config broker_url); https, or http on loopback
  --allow-insecure    accept an http:// broker URL to a host other than this machine (the token
                      then travels in clear; development only)
  --token TOKEN       the OIDC token (prefer --token-file: argv is visible to other processes)
  --token-file PATH   read the token from a file (one trailing newline trimmed)
  --config PATH       client config file (default ~/.voidkey/config.yaml: broker_url, output_format,
                      default_keys, audience)
  --timeout SECONDS   one deadline for the whole command, retries included (default 30)
  --audience AUD      audience to request from the GitHub Actions runner (env VOIDKEY_AUDIENCE,
                      config audience; default: the broker URL's origin, e.g. https://voidkey.example.com)
  -h, --help          show this help
`;

const PRECEDENCE = `Precedence: flag > environment variable > config file > default.
Token: --token, then --token-file, then VOIDKEY_OIDC_TOKEN, then the GitHub Actions runner
(ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; needs \`permissions: id-token: write\`).
`;

/** A command's full help: its usage and options, then the global options, precedence and the exit codes it can return. */
export function commandHelp(usage: string, options: string, exitCodes: string): string {
  return `${usage}\n\n${options}${options ? '\n' : ''}${GLOBAL_FLAGS}\n${PRECEDENCE}\n${exitCodes}`;
}
