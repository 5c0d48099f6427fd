/**
 * The append-only audit file (`logging.audit.file`): JSON lines, mode 0600,
 * rotated before a line would push it past `maxSize` (file → file.1 → … →
 * file.N, the oldest dropped, N = `maxFiles`). Writes are queued, so lines
 * never interleave and rotation never races a write; each `write` resolves
 * once its line is handed to the kernel, so a caller can fail closed. One
 * process per file: replicas need a file each (or ship the log stream).
 */
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';

/** The last write's outcome, for health. */
export interface AuditFileStatus {
  ok: boolean;
  /** Safe reason of the last failure (errno code, no data). */
  error?: string;
  /** ISO time of the last failure. */
  failedAt?: string;
}

/** An open audit file. */
export interface AuditFile {
  readonly path: string;
  /** Appends one line (a newline is added); rejects when it could not be written. */
  write(line: string): Promise<void>;
  /**
   * Resolves when a line can be expected to go through: the file is open for
   * append (opened now if need be) and the last write did not fail. Queued
   * behind every write before it, so it answers for them too.
   */
  ready(): Promise<void>;
  /** Resolves when every queued line is written and synced to disk. */
  flush(): Promise<void>;
  /** Flushes and closes; later writes reopen the file. */
  close(): Promise<void>;
  status(): AuditFileStatus;
}

/** Options of {@link openAuditFile}. */
export interface AuditFileOptions {
  path: string;
  /** Rotate before the file would exceed this many bytes. */
  maxBytes: number;
  /** Rotated files kept (file.1 … file.maxFiles). */
  maxFiles: number;
}

const code = (error: unknown) => (error as { code?: string }).code ?? 'write failed';

/** Opens on the first write or `ready()`; a line that cannot be written is the caller's to handle. */
export function openAuditFile(options: AuditFileOptions): AuditFile {
  let handle: FileHandle | undefined;
  let size = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let state: AuditFileStatus = { ok: true };

  async function ensureOpen(): Promise<FileHandle> {
    if (handle) return handle;
    const opened = await open(options.path, 'a', 0o600);
    try {
      // An existing file keeps its mode on open; an audit trail is nobody else's to read.
      await opened.chmod(0o600);
      size = (await opened.stat()).size;
    } catch (error) {
      await opened.close().catch(() => undefined);
      throw error;
    }
    handle = opened;
    return opened;
  }

  async function closeHandle(): Promise<void> {
    const h = handle;
    handle = undefined;
    if (h) await h.close().catch(() => undefined);
  }

  async function rotate(): Promise<void> {
    await closeHandle();
    const name = (i: number) => `${options.path}.${i}`;
    await unlink(name(options.maxFiles)).catch(() => undefined);
    for (let i = options.maxFiles - 1; i >= 1; i--) {
      await rename(name(i), name(i + 1)).catch((e: unknown) => ignoreMissing(e));
    }
    await rename(options.path, name(1));
  }

  async function append(line: string): Promise<void> {
    const data = Buffer.from(`${line}\n`, 'utf8');
    let h = await ensureOpen();
    if (size > 0 && size + data.length > options.maxBytes) {
      await rotate();
      h = await ensureOpen();
    }
    await h.write(data);
    size += data.length;
  }

  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  return {
    path: options.path,
    write(line) {
      return enqueue(async () => {
        try {
          await append(line);
          state = { ok: true };
        } catch (error) {
          await closeHandle();
          state = { ok: false, error: code(error), failedAt: new Date().toISOString() };
          throw error;
        }
      });
    },
    ready: () =>
      enqueue(async () => {
        if (!state.ok)
          throw Object.assign(new Error(`the last audit write failed (${state.error})`), {
            code: state.error,
          });
        try {
          await ensureOpen();
        } catch (error) {
          state = { ok: false, error: code(error), failedAt: new Date().toISOString() };
          throw error;
        }
      }),
    flush: () => enqueue(async () => handle?.datasync()),
    close: () =>
      enqueue(async () => {
        await handle?.datasync().catch(() => undefined);
        await closeHandle();
      }),
    status: () => ({ ...state }),
  };
}

function ignoreMissing(error: unknown): void {
  if (code(error) !== 'ENOENT') throw error;
}
