/** The slice of autocannon 9 the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  type RequestData = { method?: string; headers?: Record<string, string>; body?: string };

  interface Options extends RequestData {
    url: string;
    connections?: number;
    duration?: number;
    reconnectRate?: number;
    timeout?: number;
    requests?: Array<{ setupRequest?: (request: RequestData) => RequestData }>;
  }

  export type Result = { duration: number; errors: number; timeouts: number; non2xx: number; '2xx': number };

  function autocannon(options: Options): EventEmitter & PromiseLike<Result>;
  export default autocannon;
}
