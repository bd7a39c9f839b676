import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ClientInfo } from '../common/http/client-info';
import { AppConfig } from '../config/app-config';
import { MailService } from '../mail/mail.service';

/**
 * Mail to the person when their sign-in changes: a factor added or removed (by them or by an
 * owner or operator), a recovery code used. Sent in the background: the answer never waits
 * for it nor tells whether it went out.
 */
@Injectable()
export class MfaNotices {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly mail: MailService,
  ) {}

  factorAdded(personId: string, what: string, client: ClientInfo): Promise<void> {
    return this.send(personId, 'A sign-in factor was added to your Keyward account', [
      `${what} was added as a way to confirm your sign-in${where(client)}.`,
      'If this was not you, sign in, remove it, and change your password.',
    ]);
  }

  factorRemoved(personId: string, what: string, client: ClientInfo, by?: string): Promise<void> {
    return this.send(personId, 'A sign-in factor was removed from your Keyward account', [
      `${what} was removed${by ? ` by ${by}` : ''}${where(client)}.`,
      'If you did not expect this, sign in and check your security settings.',
    ]);
  }

  recoveryCodeUsed(personId: string, left: number, client: ClientInfo): Promise<void> {
    return this.send(personId, 'A recovery code was used to sign in to Keyward', [
      `One of your recovery codes was just used${where(client)}. ${left} unused code${left === 1 ? '' : 's'} left.`,
      'If this was not you, your codes may have been seen: sign in, make new ones and change your password.',
    ]);
  }

  private async send(personId: string, subject: string, lines: string[]): Promise<void> {
    const rows: { email: string }[] = await this.dataSource.query('SELECT email FROM people WHERE id = $1', [personId]);
    if (!rows[0]) return;
    this.mail.sendInBackground({
      to: rows[0].email,
      subject,
      text: `${lines.join('\n\n')}\n\nSecurity settings: ${this.config.publicUrl}/dashboard/security\n`,
    });
  }
}

const where = (client: ClientInfo) => (client.ip ? ` from ${client.ip}` : '');
