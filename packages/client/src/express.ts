import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { KeywardClient } from './client';
import { ValidKey } from './contract';
import { API_KEY_HEADER, decide } from './guard-core';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified key, set by keywardMiddleware. */
      keyward?: ValidKey;
    }
  }
}

export interface KeywardMiddlewareOptions {
  client: KeywardClient;
  /** Scopes the key must hold for the routes behind this middleware. */
  requiredScopes?: readonly string[];
}

/** Express middleware: lets a request through only with a valid `x-api-key`, set on `req.keyward`. */
export function keywardMiddleware({ client, requiredScopes }: KeywardMiddlewareOptions): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    decide(client, req.headers[API_KEY_HEADER], { scopes: requiredScopes }).then((decision) => {
      if (decision.allowed) {
        req.keyward = decision.key;
        return next();
      }
      if (decision.retryAfterSeconds) res.setHeader('retry-after', String(decision.retryAfterSeconds));
      res.status(decision.status).json(decision.body);
    }, next);
  };
}
