/**
 * Where audit events go: the log stream (one JSON line with `audit: true`,
 * msg `audit`) and, with `logging.audit.file`, the append-only audit file.
 * Audit lines have their own channel on the log stream, always at `info`:
 * `logging.level` filters the application's lines, never the audit trail.
 * Control characters in an event's text are escaped on both sinks.
 * A failed file write is logged, counted
 * (`voidkey_audit_write_failures_total`) and visible in health; whether it
 * fails the request is the caller's decision (`failClosed`).
 */
import { resolve } from 'node:path';
import type { LoggingConfig } from '../../core/config/schema.ts';
import { parseSize } from '../../core/config/size.ts';
import type { Logger } from '../../core/types.ts';
import { escapeControlsDeep } from '../logger.ts';
import type { BrokerMetrics } from '../metrics.ts';
import type { AuditEvent } from './events.ts';
import { type AuditFileStatus, openAuditFile } from './file.ts';

/** The audit sinks of one process. */
export interface AuditLog {
  readonly enabled: boolean;
  /** Whether a mint whose record cannot be written must fail (only meaningful with a file). */
  readonly failClosed: boolean;
  /** Absolute path of the audit file, when configured. */
  readonly file: string | undefined;
  /** Whether events are written at all (`logging.audit.enabled`), so callers skip building them. */
  wanted(): boolean;
  /**
   * Resolves when the audit file can take a record (at once without a file,
   * or when disabled); rejects with the system error otherwise. A mint asks
   * before any upstream call, `serve` at start.
   */
  ready(): Promise<void>;
  /** Appends `event` to the file; false when that failed (already logged and counted). True without a file. */
  toFile(event: AuditEvent): Promise<boolean>;
  /** Writes `event` to the log stream. */
  toLog(event: AuditEvent): void;
  /** Both sinks; false when the file write failed. */
  record(event: AuditEvent): Promise<boolean>;
  /** Health of the file sink; undefined without a file. */
  fileStatus(): AuditFileStatus | undefined;
  /** Writes out and syncs every queued record (before exit). */
  close(): Promise<void>;
}

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  settings: Readonly<LoggingConfig['audit']>;
  /** Directory a relative `file` is resolved against. */
  configDir: string;
  /** The application log: failures of the audit file are reported here. */
  logger: Logger;
  /** Where audit lines go on the log stream: a logger writing `info` whatever `logging.level` says. */
  channel: Logger;
  metrics: Pick<BrokerMetrics, 'auditWriteFailure'>;
}

/** Creates the audit sinks for `settings` (file opened on first write). */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { settings, logger, channel, metrics } = options;
  const path = settings.file ? resolve(options.configDir, settings.file) : undefined;
  const maxBytes = parseSize(settings.maxSize as string | number) ?? 100 * 1024 ** 2;
  const file = path ? openAuditFile({ path, maxBytes, maxFiles: settings.maxFiles }) : undefined;

  const toLog = (event: AuditEvent) => {
    if (settings.enabled)
      channel.info({ audit: true, ...(escapeControlsDeep(event) as AuditEvent) }, 'audit');
  };

  async function toFile(event: AuditEvent): Promise<boolean> {
    if (!settings.enabled || !file) return true;
    try {
      await file.write(JSON.stringify(escapeControlsDeep(event)));
      return true;
    } catch (error) {
      metrics.auditWriteFailure();
      logger.error(
        {
          code: (error as { code?: string }).code,
          eventType: event.eventType,
          requestId: event.requestId,
          file: path,
        },
        'audit record could not be written to the audit file',
      );
      return false;
    }
  }

  return {
    enabled: settings.enabled,
    failClosed: settings.failClosed && file !== undefined,
    file: path,
    wanted: () => settings.enabled,
    ready: async () => {
      if (settings.enabled && file) await file.ready();
    },
    toFile,
    toLog,
    async record(event) {
      const written = await toFile(event);
      toLog(event);
      return written;
    },
    fileStatus: () => file?.status(),
    close: async () => file?.close(),
  };
}
