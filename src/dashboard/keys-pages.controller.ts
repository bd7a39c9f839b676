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
import { UsageService } from '../usage/usage.service';
import { UsersService } from '../users/users.service';
import { eventRows, lastBuckets, usageView } from './activity';
import { SignedIn } from './dashboard.controller';
import { checkForm, FieldErrors, list, PageRenderer, text, userError } from './pages';

/** Roles whose scopes include keys:write. */
const WritesKeys = () => Authenticated({ via: ['session'], roles: ['owner', 'admin', 'member'] });

const GRACE_CHOICES = [
  { seconds: 0, label: 'None: the old key stops at once' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '24 hours' },
  { seconds: 604_800, label: '7 days' },
];

type Form = Record<string, unknown>;

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
  ) {}

  @Get()
  @SignedIn()
  async listPage(
    @CurrentPrincipal() principal: Principal,
    @Query() raw: Record<string, string>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    // The newest 100 keys that match; a filter that is not valid is ignored.
    const asked = Object.fromEntries(
      Object.entries({ status: raw.status, owner: raw.owner }).filter(
        ([, value]) => typeof value === 'string' && value,
      ),
    );
    const { dto: query, errors } = await checkForm(ListApiKeysQuery, asked);
    const filters = Object.assign(errors ? new ListApiKeysQuery() : query, { page: 1, limit: 100 });
    const page = await this.keys.list(principal, filters);
    const owners = await this.ownerNames(principal.tenantId!);
    const manage = seesAllKeys(principal);
    return this.pages.render(request, reply, 'keys', {
      title: 'API keys',
      keys: page.items.map((key) => this.row(key, owners)),
      total: page.total,
      filter: { status: filters.status ?? '', owner: filters.owner ?? '' },
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
        const created = await this.keys.create(principal, dto);
        return this.pages.render(
          request,
          reply,
          'key-created',
          { title: 'Key created', key: created, apiKey: created.apiKey },
          HttpStatus.CREATED,
        );
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
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const key = await this.keys.get(principal, id);
    const name = text(body, 'name').trim();
    const scopes = list(body, 'scopes');
    const errors: FieldErrors = {};
    if (!name || name.length > 100) errors.name = 'Give the key a name of 1 to 100 characters.';
    if (!scopes.length) errors.scopes = 'Keep at least one scope (or revoke the key).';
    let error: string | undefined;
    if (!Object.keys(errors).length) {
      try {
        await this.keys.update(principal, id, { name, scopes });
        return this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-updated');
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    return this.renderKey(principal, request, reply, { ...key, name }, { errors, error }, HttpStatus.BAD_REQUEST);
  }

  @Post(':id/disable')
  @WritesKeys()
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res() reply: FastifyReply,
  ) {
    await this.keys.update(principal, id, { disabled: true });
    this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-disabled');
  }

  @Post(':id/enable')
  @WritesKeys()
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res() reply: FastifyReply,
  ) {
    await this.keys.update(principal, id, { disabled: false });
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
    @Res() reply: FastifyReply,
  ) {
    await this.keys.revoke(principal, id);
    this.pages.redirect(reply, `/dashboard/keys/${id}`, 'key-revoked');
  }

  @Post(':id/rotate')
  @WritesKeys()
  async rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const grace = Number(text(body, 'gracePeriodSeconds') || 86_400);
    const gracePeriodSeconds = GRACE_CHOICES.some((choice) => choice.seconds === grace) ? grace : 86_400;
    try {
      const created = await this.keys.rotate(principal, id, { gracePeriodSeconds });
      return this.pages.render(
        request,
        reply,
        'key-created',
        { title: 'Key rotated', key: created, apiKey: created.apiKey, rotated: true },
        HttpStatus.CREATED,
      );
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
        events: eventRows(events.items, owners),
        moreEvents: Boolean(events.nextCursor),
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

  private async ownerNames(tenantId: string): Promise<Map<string, string>> {
    return new Map((await this.users.list(tenantId)).map((user) => [user.id, user.email]));
  }

  private row(key: ApiKeyDto, owners: Map<string, string>) {
    return { ...key, owner: key.ownerId ? (owners.get(key.ownerId) ?? 'unknown user') : 'service key' };
  }
}

/** Parses an optional whole number from a form field; records a message when it is not one. */
function wholeNumber(
  raw: string,
  min: number,
  max: number,
  field: string,
  label: string,
  errors: FieldErrors,
): number | undefined {
  if (!raw) return undefined;
  const value = Number(raw);
  if (/^\d+$/.test(raw) && value >= min && value <= max) return value;
  errors[field] = `${label} must be a whole number from ${min} to ${max}.`;
  return undefined;
}
