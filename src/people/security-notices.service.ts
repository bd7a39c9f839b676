import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { ClientInfo } from '../common/http/client-info';
import { MailService } from '../mail/mail.service';

/** Who a notice goes to. */
export interface Recipient {
  email: string;
}

/**
 * Mails that tell a person something happened to their account (ASVS 6.3.7, 7.4.3), one method
 * per event. Sent in the background: a notice never slows or fails what caused it, and never
 * carries a secret or a link that acts.
 */
@Injectable()
export class SecurityNotices {
  constructor(
    private readonly mail: MailService,
    private readonly config: AppConfig,
  ) {}

  newDeviceSignIn(to: Recipient, where: { tenantName: string; client: ClientInfo; at: Date }): void {
    this.send(
      to,
      'New sign-in to your Keyward account',
      `Your account signed in to ${where.tenantName} from a device it had not used before.\n\n` +
        `When: ${where.at.toISOString()}\nAddress: ${where.client.ip ?? 'unknown'}\nBrowser or program: ${where.client.userAgent ?? 'unknown'}`,
    );
  }

  passwordChanged(to: Recipient, how: 'changed' | 'reset'): void {
    this.send(
      to,
      'Your Keyward password was changed',
      `The password of your account was ${how === 'reset' ? 'reset with an emailed link' : 'changed'}, and your other sign-ins were ended.`,
    );
  }

  emailChangeRequested(to: Recipient, newEmail: string): void {
    this.send(
      to,
      'A change of your Keyward email address was requested',
      `Someone signed in to your account asked to change its email address to ${newEmail}. Nothing changes unless the link sent to that address is followed.`,
    );
  }

  emailChanged(to: Recipient, newEmail: string): void {
    this.send(to, 'Your Keyward email address was changed', `The email address of your account is now ${newEmail}.`);
  }

  factorAdded(to: Recipient, factor: string): void {
    this.send(to, 'A sign-in factor was added to your Keyward account', `A second factor was added: ${factor}.`);
  }

  factorRemoved(to: Recipient, factor: string): void {
    this.send(to, 'A sign-in factor was removed from your Keyward account', `A second factor was removed: ${factor}.`);
  }

  recoveryCodeUsed(to: Recipient, remaining: number): void {
    this.send(
      to,
      'A recovery code of your Keyward account was used',
      `A recovery code was used to sign in. ${remaining} unused code${remaining === 1 ? '' : 's'} remain.`,
    );
  }

  private send(to: Recipient, subject: string, what: string): void {
    this.mail.sendInBackground({
      to: to.email,
      subject,
      text: `${what}\n\nIf this was you, there is nothing to do. If it was not, change your password at ${this.config.publicUrl}/forgot and tell your administrator.\n`,
    });
  }
}
