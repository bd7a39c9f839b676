import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { KeywardClient } from './client';
import { ValidKey } from './contract';
import { API_KEY_HEADER, decide } from './guard-core';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified key, set by the Keyward hook. */
    keyward?: ValidKey;
  }
}

export interface KeywardHookOptions {
  client: KeywardClient;
  /** Scopes the key must hold for the routes this hook guards. */
  requiredScopes?: readonly string[];
}

/** A Fastify `onRequest` hook (per route or per scope): only a valid `x-api-key` gets through. */
export function keywardOnRequest({ client, requiredScopes }: KeywardHookOptions): onRequestAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const decision = await decide(client, request.headers[API_KEY_HEADER], { scopes: requiredScopes });
    if (decision.allowed) {
      request.keyward = decision.key;
      return;
    }
    if (decision.retryAfterSeconds) reply.header('retry-after', decision.retryAfterSeconds);
    return reply.code(decision.status).send(decision.body);
  };
}

/**
 * The hook as a plugin that guards every route of the scope it is registered in (not only its
 * children: it skips Fastify's encapsulation, as fastify-plugin would).
 */
export const keywardPlugin: FastifyPluginAsync<KeywardHookOptions> = async (fastify, options) => {
  if (!fastify.hasRequestDecorator('keyward')) fastify.decorateRequest('keyward', undefined);
  fastify.addHook('onRequest', keywardOnRequest(options));
};
Object.assign(keywardPlugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'keyward' });
