import { INestApplication } from '@nestjs/common';
import { Mail, MailService } from '../../src/mail/mail.service';

/**
 * Watches the mail an app sends. Every flow starts its (background) send before it answers,
 * so once a request has answered, `delivered()` waits for exactly the mail it caused: nothing
 * to wait "a moment" for, and an absent message is known to be absent.
 */
export function watchMail(app: INestApplication): { delivered(): Promise<void>; sent(): Mail[] } {
  const send = jest.spyOn(app.get(MailService), 'send');
  return {
    delivered: async () => void (await Promise.allSettled(send.mock.results.map((result) => result.value))),
    sent: () => send.mock.calls.map(([mail]) => mail),
  };
}
