/** Where a command reads its environment and writes its output: the process, or a test's own. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Directory relative paths resolve against. */
  cwd: string;
}

/** The process's stdio, environment and working directory as a {@link CommandIo}. */
export function processIo(): CommandIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
  };
}
