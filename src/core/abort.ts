/**
 * A light AbortSignal for per-request deadlines. Node 20's AbortSignal is an
 * EventTarget: in the bench profile, creating one per request and adding and
 * removing listeners on it cost ~15 µs of CPU per mint. A deadline only needs
 * "abort once, with a reason, and call whoever listens", so this signal keeps
 * its listeners in an array. It implements AbortSignal's interface, which is
 * all the broker's own helpers and the AWS SDK's request handler use. Node
 * APIs that want a native signal (`AbortSignal.any`, `fetch`) get one from
 * {@link nativeSignal}: created on first need, aborted together with this one.
 */

type Listener = Parameters<AbortSignal['addEventListener']>[1];
type ListenerOptions = Parameters<AbortSignal['addEventListener']>[2];

/** The controller of a {@link LightAbortSignal}, like AbortController. */
export class LightAbortController {
  readonly signal: AbortSignal;
  readonly #signal: LightAbortSignal;

  constructor() {
    this.#signal = new LightAbortSignal();
    this.signal = this.#signal;
  }

  /** Aborts the signal with `reason` (default: an AbortError DOMException); later calls do nothing. */
  abort(reason?: unknown): void {
    this.#signal.fire(
      reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason,
    );
  }
}

/** A native AbortSignal that follows `signal` (the signal itself when it is native). */
export function nativeSignal(signal: AbortSignal): AbortSignal {
  return signal instanceof LightAbortSignal ? signal.native() : signal;
}

class LightAbortSignal implements AbortSignal {
  onabort: ((this: AbortSignal, ev: Event) => unknown) | null = null;
  #aborted = false;
  #reason: unknown;
  #listeners: Array<{ listener: Listener; once: boolean; removed?: true }> = [];
  #native: AbortController | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  addEventListener(type: string, listener: Listener | null, options?: ListenerOptions): void {
    // As EventTarget: an abort signal fires once, so a listener added afterwards never runs.
    if (type !== 'abort' || !listener || this.#aborted) return;
    if (this.#listeners.some((entry) => entry.listener === listener)) return;
    const once = typeof options === 'object' && options !== null && options.once === true;
    this.#listeners.push({ listener, once });
  }

  removeEventListener(type: string, listener: Listener | null): void {
    if (type !== 'abort' || !listener) return;
    const at = this.#listeners.findIndex((entry) => entry.listener === listener);
    if (at < 0) return;
    // A listener removed while the event is being dispatched is not called.
    (this.#listeners[at] as { removed?: true }).removed = true;
    this.#listeners.splice(at, 1);
  }

  dispatchEvent(event: Event): boolean {
    if (event.type === 'abort') this.#notify(event);
    return !event.defaultPrevented;
  }

  /** The native twin; see {@link nativeSignal}. */
  native(): AbortSignal {
    if (!this.#native) {
      this.#native = new AbortController();
      if (this.#aborted) this.#native.abort(this.#reason);
    }
    return this.#native.signal;
  }

  fire(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#native?.abort(reason);
    this.#notify(new Event('abort'));
  }

  #notify(event: Event): void {
    const listeners = this.#listeners;
    this.#listeners = listeners.filter((entry) => !entry.once);
    const call = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        // As EventTarget: a throwing listener neither stops the others nor reaches the caller.
        queueMicrotask(() => {
          throw error;
        });
      }
    };
    if (this.onabort) {
      const handler = this.onabort;
      call(() => handler.call(this, event));
    }
    for (const { listener, removed } of listeners) {
      if (removed) continue;
      call(() => (typeof listener === 'function' ? listener.call(this, event) : listener.handleEvent(event)));
    }
  }
}
