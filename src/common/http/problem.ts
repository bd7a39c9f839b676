import { HttpException, HttpStatus } from '@nestjs/common';

/** The one JSON error shape every API error leaves with. */
export interface Problem {
  statusCode: number;
  error: string;
  message: string;
  code?: string;
  requestId: string;
  details?: unknown;
}

/** An HttpException that carries a machine-readable code (and optional details). */
export class AppException extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super({ message, code, details }, status);
  }
}
