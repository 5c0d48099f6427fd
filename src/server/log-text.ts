/**
 * Control characters in logged text, made visible. A User-Agent, a token's
 * subject or an upstream request id is someone else's text: written raw, an
 * escape sequence could repaint the terminal of whoever reads the log and a
 * line break could forge a line in a viewer that prints decoded values. Each
 * such character becomes `\xHH` (C0, DEL, C1) or `\uHHHH` (line and
 * paragraph separators, bidirectional overrides), as docs/operations.md says.
 * Backslashes are left as they are, so escaping twice changes nothing.
 */

// Built from a string so the linter's rule against control characters in regex literals stays on elsewhere.
const RANGES = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const CONTROL = new RegExp(`[${RANGES}]`);
const CONTROLS = new RegExp(`[${RANGES}]`, 'g');
/** The same set without the line feed: error stacks keep their lines. */
const STACK_CONTROLS = new RegExp(
  `[${RANGES.replace('\\u0000-\\u001f', '\\u0000-\\u0009\\u000b-\\u001f')}]`,
  'g',
);

function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character written as an escape; `text` itself when it has none. */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, visible) : text;
}

/** As {@link escapeControls}, keeping line feeds (for error stacks, one frame per line). */
export function escapeStackControls(text: string): string {
  return CONTROL.test(text) ? text.replace(STACK_CONTROLS, visible) : text;
}

/**
 * `value` with control characters escaped in every string of its plain
 * objects and arrays (field names too), copying only what changes.
 */
export function escapeControlsDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeControls(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const escaped = escapeControlsDeep(value[i]);
      if (escaped !== value[i]) {
        copy ??= value.slice();
        copy[i] = escaped;
      }
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  const fields = Object.keys(value);
  for (const field of fields) {
    const item = (value as Record<string, unknown>)[field];
    const escaped = escapeControlsDeep(item);
    const name = escapeControls(field);
    if (escaped === item && name === field) continue;
    copy ??= { ...(value as Record<string, unknown>) };
    if (name !== field) delete copy[field];
    // A data field even when named `__proto__`.
    Object.defineProperty(copy, name, {
      value: escaped,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy ?? value;
}
