import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { ClientInfo } from '../common/http/client-info';
import { MailService } from '../mail/mail.service';
import { PeopleService } from './people.service';

/** Who a notice goes to: an address, or a person by id (their current address). */
export type Recipient = Address | { personId: string };
/** An email address to write to. */
export interface Address {
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
    private readonly people: PeopleService,
  ) {}

  newDeviceSignIn(to: Address, where: { tenantName: string; client: ClientInfo; at: Date }): void {
    this.send(
      to,
      'New sign-in to your Keyward account',
      `Your account signed in to ${where.tenantName} from a device it had not used before.\n\n` +
        `When: ${where.at.toISOString()}\nAddress: ${where.client.ip ?? 'unknown'}\nBrowser or program: ${where.client.userAgent ?? 'unknown'}`,
    );
  }

  passwordChanged(to: Address, how: 'changed' | 'reset'): void {
    this.send(
      to,
      'Your Keyward password was changed',
      `The password of your account was ${how === 'reset' ? 'reset with an emailed link' : 'changed'}, and your other sign-ins were ended.`,
    );
  }

  emailChangeRequested(to: Address, newEmail: string): void {
    this.send(
      to,
      'A change of your Keyward email address was requested',
      `Someone signed in to your account asked to change its email address to ${newEmail}. Nothing changes unless the link sent to that address is followed.`,
    );
  }

  emailChanged(to: Address, newEmail: string): void {
    this.send(to, 'Your Keyward email address was changed', `The email address of your account is now ${newEmail}.`);
  }

  /** `what` names the factor as a sentence's subject, e.g. 'An authenticator app'. */
  async factorAdded(to: Recipient, what: string, client: ClientInfo): Promise<void> {
    this.send(
      await this.recipient(to),
      'A sign-in factor was added to your Keyward account',
      `${what} was added as a way to confirm your sign-in${from(client)}.\n\n` +
        `Security settings: ${this.config.publicUrl}/dashboard/security`,
    );
  }

  /** `by` names who removed it when it was not the person (an owner, the operator). */
  async factorRemoved(to: Recipient, what: string, client: ClientInfo, by?: string): Promise<void> {
    this.send(
      await this.recipient(to),
      'A sign-in factor was removed from your Keyward account',
      `${what} was removed${by ? ` by ${by}` : ''}${from(client)}.\n\n` +
        `Security settings: ${this.config.publicUrl}/dashboard/security`,
    );
  }

  async recoveryCodeUsed(to: Recipient, remaining: number, client: ClientInfo): Promise<void> {
    this.send(
      await this.recipient(to),
      'A recovery code was used to sign in to Keyward',
      `One of your recovery codes was just used${from(client)}. ${remaining} unused code${remaining === 1 ? '' : 's'} left. ` +
        `If this was not you, your codes may have been seen: make new ones at ${this.config.publicUrl}/dashboard/security.`,
    );
  }

  /** The address of a recipient named by person id; null for a person no longer there. */
  private async recipient(to: Recipient): Promise<Address | null> {
    if ('email' in to) return to;
    const person = await this.people.findById(to.personId);
    return person ? { email: person.email } : null;
  }

  private send(to: Address | null, subject: string, what: string): void {
    if (!to) return;
    this.mail.sendInBackground({
      to: to.email,
      subject,
      text: `${what}\n\nIf this was you, there is nothing to do. If it was not, change your password at ${this.config.publicUrl}/forgot and tell your administrator.\n`,
    });
  }
}

const from = (client: ClientInfo) => (client.ip ? ` from ${client.ip}` : '');
