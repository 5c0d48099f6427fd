/**
 * Marks a plugin as applying to the instance that registers it, as
 * fastify-plugin does (fastify's documented `skip-override` symbol): its
 * hooks then cover every route of the root, the 404 handler included.
 */
import type { FastifyInstance } from 'fastify';

/** `plugin`, marked so fastify does not encapsulate it. */
export function rootPlugin<T>(
  plugin: (app: FastifyInstance, options: T) => Promise<void>,
): (app: FastifyInstance, options: T) => Promise<void> {
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  return plugin;
}
