import { AppException } from '../common/http/problem';
import { Body, Controller, Get, HttpStatus, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { ApiKeyDto, CreateTenantApiKeyDto, ListApiKeysQuery } from '../api-keys/dto/api-keys.dto';
import { grantableScopes, seesAllKeys } from '../api-keys/key-policy';
import { ListAuditEventsQuery } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { Client, ClientInfo } from '../common/http/client-info';
import { AppConfig } from '../config/app-config';
import { UsageService } from '../usage/usage.service';
import { UsersService } from '../users/users.service';
import { eventRows, keyNames, lastBuckets, usageView } from './activity';
import { SignedIn } from './dashboard.controller';
import { keyChanges, keyFormValues, wholeNumber } from './key-form';
import { KeyReveals } from './key-reveal';
import { checkForm, FieldErrors, list, PageRenderer, text, userError } from './pages';
import { cookieNames } from './web';

/** Roles whose scopes include keys:write. */
const WritesKeys = () => Authenticated({ via: ['session'], roles: ['owner', 'admin', 'member'] });

const GRACE_CHOICES = [
  { seconds: 0, label: 'None: the old key stops at once' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '24 hours' },
  { seconds: 604_800, label: '7 days' },
];

type Form = Record<string, unknown>;

/** Rows per page of the key list. */
export const KEYS_PAGE_SIZE = 25;

/** Keys: list, create (shown once), edit, disable/enable, rotate, revoke. */
@ApiExcludeController()
@Controller('dashboard/keys')
export class KeysPagesController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly users: UsersService,
    private readonly pages: PageRenderer,
    private readonly usage: UsageService,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {
    this.reveals = new KeyReveals(config.configEncryptionKey, cookieNames(config));
  }

  private readonly reveals: KeyReveals;

  @Get()
  @SignedIn()
  async listPage(
    @CurrentPrincipal() principal: Principal,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    // A filter that is not valid is reported (the search) or ignored (a tampered choice).
    const asked: Record<string, string> = {};
    for (const name of ['status', 'owner', 'q', 'page'] as const) {
      const value = typeof raw[name] === 'string' ? raw[name].trim() : '';
      if (value) asked[name] = value;
    }
    const { errors } = await checkForm(ListApiKeysQuery, asked);
    const valid = Object.fromEntries(Object.entries(asked).filter(([name]) => !errors?.[name]));
    const filters = Object.assign((await checkForm(ListApiKeysQuery, valid)).dto, { limit: KEYS_PAGE_SIZE });
    const page = await this.keys.list(principal, filters);
    const owners = await this.ownerNames(principal.tenantId!);
    const manage = seesAllKeys(principal);
    const kept = Object.fromEntries(
      Object.entries({ status: filters.status, owner: filters.owner, q: filters.q }).filter(([, v]) => v),
    ) as Record<string, string>;
    const href = (n: number) => `/dashboard/keys?${new URLSearchParams({ ...kept, page: String(n) })}`;
    const pages = Math.max(1, Math.ceil(page.total / KEYS_PAGE_SIZE));
    const first = (filters.page - 1) * KEYS_PAGE_SIZE;
    return this.pages.render(request, reply, 'keys', {
      title: 'API keys',
      keys: page.items.map((key) => this.row(key, owners)),
      total: page.total,
      range: page.items.length ? { from: first + 1, to: first + page.items.length } : null,
      pager: {
        page: filters.page,
        pages,
        previous: filters.page > 1 ? href(Math.min(filters.page - 1, pages)) : null,
        next: filters.page < pages ? href(filters.page + 1) : null,
        last: filters.page > pages ? href(pages) : null,
      },
      filtered: Object.keys(kept).length > 0,
      filter: { status: filters.status ?? '', owner: filters.owner ?? '', q: asked.q ?? '' },
      errors: errors?.q ? { q: 'Search with at most 100 characters.' } : {},
      statuses: ['active', 'disabled', 'revoked', 'expired'],
      owners: manage ? [...owners].map(([id, email]) => ({ id, email })) : null,
    });
  }

  @Get('new')
  @WritesKeys()
  newPage(@CurrentPrincipal() principal: Principal, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.renderForm(principal, request, reply, { scopes: grantableScopes(principal) });
  }

  @Post()
  @WritesKeys()
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const errors: FieldErrors = {};
    const values = {
      name: text(body, 'name').trim(),
      scopes: list(body, 'scopes'),
      expiresInDays: text(body, 'expiresInDays').trim(),
      rateLimit: text(body, 'rateLimit').trim(),
      rateWindow: text(body, 'rateWindow').trim(),
      service: text(body, 'service') === 'on' && seesAllKeys(principal),
    };
    const expiresInDays = wholeNumber(values.expiresInDays, 1, 3650, 'expiresInDays', 'Expiry', errors);
    const limit = wholeNumber(values.rateLimit, 1, 1_000_000, 'rateLimit', 'The request limit', errors);
    const windowSeconds = wholeNumber(values.rateWindow, 1, 86_400, 'rateWindow', 'The window', errors);
    if ((limit === undefined) !== (windowSeconds === undefined) && !errors.rateLimit && !errors.rateWindow)
      errors.rateLimit = 'Give both the request limit and the window, or neither.';
    if (!values.scopes.length) errors.scopes = 'Choose at least one scope.';
    const dto: CreateTenantApiKeyDto = Object.assign(new CreateTenantApiKeyDto(), {
      name: values.name,
      scopes: values.scopes,
      ...(expiresInDays !== undefined ? { expiresInDays } : {}),
      ...(limit !== undefined && windowSeconds !== undefined ? { rateLimit: { limit, windowSeconds } } : {}),
      ...(values.service ? { service: true } : {}),
    });
    const checked = await checkForm(CreateTenantApiKeyDto, dto);
    if (checked.errors?.name) errors.name = 'Give the key a name of 1 to 100 characters.';
    if (checked.errors?.scopes && !errors.scopes) errors.scopes = 'Choose scopes from the list.';
    let error: string | undefined;
    if (!Object.keys(errors).length) {
      try {
        const created = await this.keys.create(principal, dto, client);
        return this.showOnce(request, reply, created.id, created.apiKey);
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    return this.renderForm(
      principal,
      request,
      reply,
      { scopes: grantableScopes(principal), values, errors, error },
      HttpStatus.BAD_REQUEST,
    );
  }

  /**
   * The page after creating or rotating: the secret the POST left in a sealed cookie, shown
   * once. A reload finds the cookie gone and says so; it never makes another key.
   */
  @Get(':id/secret')
  @WritesKeys()
  async secretPage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const key = await this.keys.get(principal, id);
    const apiKey = this.reveals.take(request, reply, id, this.clock.now());
    const rotated = Boolean(key.rotatedFromId);
    return this.pages.render(request, reply, 'key-created', {
      title: rotated ? 'Key rotated' : 'Key created',
      key,
      apiKey,
      rotated,
      snippet: this.snippet(apiKey ?? '$KEYWARD_API_KEY'),
    });
  }

  @Get(':id')
  @SignedIn()
  async keyPage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Query('usage') per: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderKey(principal, request, reply, await this.keys.get(principal, id), {
      per: per === 'day' ? 'day' : 'hour',
    });
  }

  @Post(':id')
  @WritesKeys()
  async edit(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const key = await this.keys.get(principal, id);
    const { dto, values, errors } = await keyChanges(key, body, this.clock.now());
    let error: string | undefined;
    if (!Object.keys(errors).length) {
      try {
        if (Object.keys(dto).length) await this.keys.update(principal, id, dto, client);
        return this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-updated');
      } catch (caught) {
        const { message } = userError(caught);
        // Names the tenant has not defined belong to their field.
        const code = caught instanceof AppException ? caught.code : undefined;
        if (code === 'UNKNOWN_PERMISSIONS') errors.permissions = message;
        else if (code === 'UNKNOWN_ROLES') errors.roles = message;
        else error = message;
      }
    }
    return this.renderKey(principal, request, reply, key, { values, errors, error }, HttpStatus.BAD_REQUEST);
  }

  @Post(':id/disable')
  @WritesKeys()
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    await this.keys.update(principal, id, { disabled: true }, client);
    this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-disabled');
  }

  @Post(':id/enable')
  @WritesKeys()
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    await this.keys.update(principal, id, { disabled: false }, client);
    this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-enabled');
  }

  @Get(':id/revoke')
  @WritesKeys()
  async revokePage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const key = await this.keys.get(principal, id);
    return this.pages.render(request, reply, 'key-revoke', { title: `Revoke ${key.name}`, key });
  }

  @Post(':id/revoke')
  @WritesKeys()
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    // Only the confirm step (its page or its dialog) sends `confirm`: a stray post asks first.
    if (text(body, 'confirm') !== 'yes') {
      await this.keys.get(principal, id); // 404 for a key the caller cannot see, as the revoke would
      return this.pages.redirect(reply, `/dashboard/keys/${id}/revoke`);
    }
    await this.keys.revoke(principal, id, client);
    this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-revoked');
  }

  @Post(':id/rotate')
  @WritesKeys()
  async rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const grace = Number(text(body, 'gracePeriodSeconds') || 86_400);
    const gracePeriodSeconds = GRACE_CHOICES.some((choice) => choice.seconds === grace) ? grace : 86_400;
    try {
      const created = await this.keys.rotate(principal, id, { gracePeriodSeconds }, client);
      return this.showOnce(request, reply, created.id, created.apiKey);
    } catch (caught) {
      const { status, message } = userError(caught);
      return this.renderKey(principal, request, reply, await this.keys.get(principal, id), { error: message }, status);
    }
  }

  /** The key with its usage (per hour for 48 hours, or per day for 30 days) and its audit events. */
  private async renderKey(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    key: ApiKeyDto,
    extra: { per?: 'hour' | 'day'; [name: string]: unknown } = {},
    status = HttpStatus.OK,
  ) {
    const owners = await this.ownerNames(principal.tenantId!);
    const per = extra.per ?? 'hour';
    // forKey and the event list go through the same visibility check as the key itself.
    const series = await this.usage.forKey(
      principal,
      key.id,
      per === 'hour' ? lastBuckets(this.clock.now(), 'hour', 48) : lastBuckets(this.clock.now(), 'day', 30),
    );
    const usage = usageView(
      series,
      per === 'hour'
        ? `Requests with ${key.name} per hour, last 48 hours`
        : `Requests with ${key.name} per day, last 30 days`,
    );
    const events = await this.audit.listForTenant(
      principal.tenantId!,
      Object.assign(new ListAuditEventsQuery(), { targetType: 'api_key', targetId: key.id, limit: 50 }),
    );
    const denials = Object.entries(series.totals.denied)
      .filter(([, count]) => count > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([code, count]) => ({ code, count }));
    return this.pages.render(
      request,
      reply,
      'key',
      {
        title: key.name,
        key: this.row(key, owners),
        graceChoices: GRACE_CHOICES,
        changeable: key.status === 'active' || key.status === 'rotating' || key.status === 'disabled',
        per,
        usage,
        events: eventRows(events.items, owners, await keyNames(this.keys, principal, events.items)),
        moreEvents: Boolean(events.nextCursor),
        denials,
        values: keyFormValues(key),
        quotaShown: key.quota ? String(key.quota.remaining) : '',
        refillIntervals: ['day', 'month'],
        snippet: this.snippet('$KEYWARD_API_KEY'),
        ...extra,
      },
      status,
    );
  }

  private renderForm(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    data: Record<string, unknown>,
    status = HttpStatus.OK,
  ) {
    const manage = seesAllKeys(principal);
    return this.pages.render(
      request,
      reply,
      'key-new',
      { title: 'New API key', manage, values: { scopes: [] }, ...data },
      status,
    );
  }

  /** Post/redirect/get: the secret goes to the next page in a sealed cookie, never in the URL. */
  private showOnce(request: FastifyRequest, reply: FastifyReply, id: string, apiKey: string): void {
    this.reveals.hold(request, reply, id, apiKey, this.clock.now());
    this.pages.redirect(reply, `/dashboard/keys/${id}/secret`);
  }

  /** How a key is used: the configuration endpoint, with the key in its header. */
  private snippet(apiKey: string): string {
    return `curl -H "x-api-key: ${apiKey}" ${this.config.publicUrl}/config`;
  }

  private async ownerNames(tenantId: string): Promise<Map<string, string>> {
    return new Map((await this.users.list(tenantId)).map((user) => [user.id, user.email]));
  }

  private row(key: ApiKeyDto, owners: Map<string, string>) {
    return { ...key, owner: key.ownerId ? (owners.get(key.ownerId) ?? 'unknown user') : 'service key' };
  }
}
