/**
 * Retry for provider calls. The backoff loop and the shared predicates are
 * implemented in core (the broker-token source retries too, and core imports
 * no other layer); providers import them from here.
 */
export {
  backoffDelay,
  isRetryableHttpError,
  isRetryableStatus,
  type RetryOptions,
  withRetry,
} from '../core/retry.ts';
