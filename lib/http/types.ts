/**
 * The hono environment of the facade. Only what the facade reads from the
 * server binding is declared, structurally: @hono/node-server passes its
 * `HttpBindings` (which fit), and tests calling `app.request()` pass a plain
 * object with a `remoteAddress`.
 */
export interface HttpBindings {
  incoming?: { socket?: { remoteAddress?: string | undefined } };
}

export interface HttpEnv {
  Bindings: HttpBindings;
}
