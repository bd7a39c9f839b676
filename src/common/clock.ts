import { Injectable } from '@nestjs/common';

/** The time, injectable so tests can move it (session timeouts, token expiry, grace periods). */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
