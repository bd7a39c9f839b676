import { Response } from 'supertest';
import { TestUser } from './identity';
import { TestApp } from './test-app';

/** One browser: its cookies (name → value) and the CSRF token of the last page it loaded. */
export class Browser {
  readonly cookies = new Map<string, string>();
  csrf = '';
  /** Sent with every request (a user agent, say). */
  readonly headers: Record<string, string> = {};

  constructor(private readonly t: TestApp) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async get(path: string): Promise<Response> {
    return this.keep(await this.t.http.get(path).set(this.headers).set('cookie', this.cookieHeader));
  }

  /** Posts a form; the CSRF token of the last page is added unless `_csrf` is given (or null). */
  async post(path: string, form: Record<string, string | string[] | null> = {}): Promise<Response> {
    const body: Record<string, unknown> = { _csrf: this.csrf, ...form };
    if (body._csrf === null) delete body._csrf;
    return this.keep(
      await this.t.http
        .post(path)
        .set(this.headers)
        .set('cookie', this.cookieHeader)
        .type('form')
        .send(body as Record<string, string>),
    );
  }

  /** Signs in at /login; `console` asks for the operator console (for an operator who is also a member). */
  async signIn(user: Pick<TestUser, 'email' | 'password'>, console?: boolean): Promise<Response> {
    await this.get(console ? '/login?console=1' : '/login');
    const res = await this.post('/login', {
      email: user.email,
      password: user.password,
      ...(console ? { console: '1' } : {}),
    });
    if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
    return res;
  }

  private keep(res: Response): Response {
    for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
      const [pair, ...attributes] = line.split(';');
      const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
      const expired = attributes.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(res.text ?? '');
    if (token) this.csrf = token[1];
    return res;
  }
}

/** The full key shown once on the "key created" page. */
export const shownKey = (html: string): string => /id="new-key"[^>]*value="([^"]+)"/.exec(html)![1];

/** The raw Set-Cookie line for one cookie. */
export const setCookieLine = (res: Response, name: string): string | undefined =>
  ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((line) => line.startsWith(`${name}=`));
