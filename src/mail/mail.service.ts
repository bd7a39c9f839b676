import { Injectable, Logger } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { Transporter } from 'nodemailer';
import { AppConfig } from '../config/app-config';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Sends mail through SMTP_URL; without it, writes each message as an .eml file to
 * DATA_DIR/outbox so a developer can open it, and beside it a plain-text copy (.txt): the .eml
 * is quoted-printable (`token=3D…`, soft line breaks), so a link copied from it fails. Only the
 * paths are logged, never the content (it carries one-time links).
 */
@Injectable()
export class MailService {
  private readonly logger = new Logger(MailService.name);
  private readonly transport: Transporter;
  private readonly outbox?: string;

  constructor(private readonly config: AppConfig) {
    if (config.smtpUrl) {
      this.transport = nodemailer.createTransport(config.smtpUrl);
    } else {
      this.outbox = join(config.dataDir, 'outbox');
      this.transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
    }
  }

  async send(mail: Mail): Promise<void> {
    const info = await this.transport.sendMail({ from: this.config.mailFrom, ...mail });
    if (this.outbox) {
      mkdirSync(this.outbox, { recursive: true, mode: 0o700 });
      const file = join(this.outbox, `${Date.now()}-${info.messageId.replace(/[^A-Za-z0-9.@-]/g, '')}.eml`);
      writeFileSync(file, info.message as Buffer, { mode: 0o600 });
      const text = file.replace(/\.eml$/, '.txt');
      writeFileSync(text, `To: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n`, { mode: 0o600 });
      this.logger.log({ msg: 'mail written to outbox', path: file, text, subject: mail.subject });
    } else {
      this.logger.log({ msg: 'mail sent', subject: mail.subject, messageId: info.messageId });
    }
  }

  /** Sends without making the caller wait or fail: the response must not reveal mail work. */
  sendInBackground(mail: Mail): void {
    this.send(mail).catch((error) =>
      this.logger.error({ msg: 'mail delivery failed', subject: mail.subject, err: error }),
    );
  }
}
