import {
  Body,
  Controller,
  Get,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHmac } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { actorOf, ACTOR_TYPES, AdminListAuditEventsQuery } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { PASSWORD_HINT } from '../auth/password.service';
import { AppConfig } from '../config/app-config';
import { Operator, CurrentPrincipal, Public } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { SCOPES } from '../common/auth/scopes';
import { SecretBox } from '../common/crypto/secret-box';
import { Client, ClientInfo } from '../common/http/client-info';
import { MAX_PAGE } from '../common/http/pagination';
import { AppException } from '../common/http/problem';
import { FactorsService } from '../mfa/factors.service';
import { OperatorEventsService } from '../operators/operator-events.service';
import { OperatorsService } from '../operators/operators.service';
import { CreateTenantDto, UpdateTenantDto } from '../tenants/dto/tenants.dto';
import { TenantsService } from '../tenants/tenants.service';
import { InviteUserDto } from '../users/dto/users.dto';
import { UsersService } from '../users/users.service';
import { OperatorConsoleService } from './operator-console.service';
import { checkForm, CsrfGuard, FieldErrors, list, text, userError } from './pages';
import { clearCsrfSecret, cookieNames, CookieNames, csrfToken, sessionCookieOptions } from './web';

type Form = Record<string, unknown>;

const PAGE_SIZE = 25;

/** Messages after a redirect (`?flash=code`): fixed texts, never user input. */
const FLASH: Record<string, string> = {
  'operator-created': 'The operator has been created. Sign in with its email and password.',
  'operator-added': 'The operator has been added.',
  'tenant-created': 'The tenant has been created. Invite its first owner and make its first key below.',
  'tenant-suspended': 'The tenant has been suspended: its people and keys are refused until it is unsuspended.',
  'tenant-unsuspended': 'The tenant is active again.',
  'limits-saved': 'The limits have been saved.',
  'owner-invited': 'The invitation has been mailed.',
  'key-seen': 'That key was shown once and cannot be shown again.',
  'totp-added': 'Your authenticator app is on: the next sign-in asks for its code.',
};

/** A whole number typed in a form, or the text itself (so the DTO's rule reports it). */
const wholeNumber = (raw: string): number | string => (/^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : raw);

/**
 * The operator console: tenants (search, create, suspend, limits, first owner, first key),
 * service-wide audit and usage, and the operators themselves. Every route but the bootstrap
 * is `@Operator()`: a tenant member is refused (403) whatever their role.
 */
@ApiExcludeController()
@Controller('operator')
export class OperatorPagesController {
  private readonly cookies: CookieNames;
  private readonly keyView: SecretBox;

  constructor(
    private readonly operators: OperatorsService,
    private readonly events: OperatorEventsService,
    private readonly tenants: TenantsService,
    private readonly users: UsersService,
    private readonly keys: ApiKeysService,
    private readonly audit: AuditService,
    private readonly console: OperatorConsoleService,
    private readonly factors: FactorsService,
    private readonly dataSource: DataSource,
    config: AppConfig,
  ) {
    this.cookies = cookieNames(config);
    this.keyView = new SecretBox(
      createHmac('sha256', config.configEncryptionKey).update('keyward operator key view').digest(),
    );
  }

  // --- bootstrap: the holder of ADMIN_TOKEN makes the first operator, once -----------------

  @Get('bootstrap')
  @Public()
  async bootstrapPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.render(request, reply, 'operator/bootstrap', {
      title: 'Create the first operator',
      open: await this.operators.bootstrapOpen(),
      values: {},
    });
  }

  @Post('bootstrap')
  @Public()
  @UseGuards(CsrfGuard)
  async bootstrap(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = { email: text(body, 'email').trim().toLowerCase() };
    const again = (status: number, errors: FieldErrors, error?: string) =>
      this.render(
        request,
        reply,
        'operator/bootstrap',
        { title: 'Create the first operator', open: true, values, errors, error },
        status,
      );
    try {
      this.operators.assertAdminToken(text(body, 'token'));
    } catch (caught) {
      const code = (caught as AppException).code;
      // A field to correct, not a sign-in to make: 400, as for every other form error.
      if (code === 'ADMIN_TOKEN_INVALID')
        return again(HttpStatus.BAD_REQUEST, { token: 'This is not the admin token.' });
      return again((caught as AppException).getStatus(), {}, (caught as AppException).message);
    }
    const { dto, errors } = await checkForm(InviteUserDto, { email: values.email, role: 'owner' });
    if (errors?.email) return again(HttpStatus.BAD_REQUEST, { email: 'Enter a valid email address.' });
    try {
      await this.operators.bootstrap({ email: dto.email, password: text(body, 'password') }, client);
    } catch (caught) {
      const { status, message } = userError(caught);
      const field = (caught as AppException).code === 'WEAK_PASSWORD' ? 'password' : 'email';
      return status === HttpStatus.CONFLICT && (caught as AppException).code === 'OPERATORS_EXIST'
        ? again(status, {}, message)
        : again(status, { [field]: message });
    }
    reply.redirect('/login?flash=operator-created', HttpStatus.SEE_OTHER);
  }

  // --- tenants ------------------------------------------------------------------------------

  @Get()
  @Operator()
  home(@Res() reply: FastifyReply) {
    reply.redirect('/operator/tenants', HttpStatus.SEE_OTHER);
  }

  @Get('tenants')
  @Operator()
  async tenantsPage(@Query() raw: Record<string, unknown>, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.renderTenants(request, reply, raw);
  }

  @Post('tenants')
  @Operator()
  async createTenant(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = { name: text(body, 'name').trim(), slug: text(body, 'slug').trim() };
    const { dto, errors } = await checkForm(CreateTenantDto, { name: values.name, slug: values.slug || undefined });
    const fields: FieldErrors = {};
    if (errors?.name) fields.name = 'Enter a name of 1 to 200 characters.';
    if (errors?.slug)
      fields.slug = 'Use 1 to 63 lowercase letters, digits or hyphens, not starting or ending with a hyphen.';
    let status = HttpStatus.BAD_REQUEST;
    if (!Object.keys(fields).length) {
      try {
        const tenant = await this.tenants.create(dto, { actor: actorOf(principal), client });
        return this.redirect(reply, `/operator/tenants/${tenant.id}`, 'tenant-created');
      } catch (caught) {
        ({ status, message: fields.slug } = userError(caught));
      }
    }
    return this.renderTenants(request, reply, {}, { values, errors: fields }, status);
  }

  @Get('tenants/:id')
  @Operator()
  async tenantPage(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderTenant(request, reply, id);
  }

  @Post('tenants/:id/limits')
  @Operator()
  async saveLimits(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = {
      maxKeysPerUser: text(body, 'maxKeysPerUser'),
      maxKeysPerTenant: text(body, 'maxKeysPerTenant'),
      maxKeyLifetimeDays: text(body, 'maxKeyLifetimeDays'),
      rateLimit: text(body, 'rateLimit'),
      rateWindowSeconds: text(body, 'rateWindowSeconds'),
      defaultKeyScopes: list(body, 'defaultKeyScopes'),
    };
    const asked = {
      maxKeysPerUser: wholeNumber(values.maxKeysPerUser),
      maxKeysPerTenant: wholeNumber(values.maxKeysPerTenant),
      maxKeyLifetimeDays: values.maxKeyLifetimeDays.trim() === '' ? null : wholeNumber(values.maxKeyLifetimeDays),
      defaultKeyScopes: values.defaultKeyScopes,
      defaultKeyRateLimit: {
        limit: wholeNumber(values.rateLimit),
        windowSeconds: wholeNumber(values.rateWindowSeconds),
      },
    };
    const { dto, errors } = await checkForm(UpdateTenantDto, asked);
    const fields: FieldErrors = {};
    if (errors?.maxKeysPerUser) fields.maxKeysPerUser = 'Enter a whole number from 0 to 100000.';
    if (errors?.maxKeysPerTenant) fields.maxKeysPerTenant = 'Enter a whole number from 0 to 1000000.';
    if (errors?.maxKeyLifetimeDays)
      fields.maxKeyLifetimeDays = 'Enter a number of days from 1 to 3650, or leave it empty for no limit.';
    if (errors?.defaultKeyScopes || !values.defaultKeyScopes.length)
      fields.defaultKeyScopes = 'Choose at least one scope from the list.';
    if (errors?.['defaultKeyRateLimit.limit']) fields.rateLimit = 'Enter a whole number of requests from 1 to 1000000.';
    if (errors?.['defaultKeyRateLimit.windowSeconds'])
      fields.rateWindowSeconds = 'Enter a window from 1 to 86400 seconds.';
    if (Object.keys(fields).length)
      return this.renderTenant(request, reply, id, { limits: values, limitErrors: fields }, HttpStatus.BAD_REQUEST);
    await this.tenants.update(id, dto, { actor: actorOf(principal), client });
    this.redirect(reply, `/operator/tenants/${id}`, 'limits-saved');
  }

  /** The confirm step: suspending works without JavaScript and never in one click. */
  @Get('tenants/:id/suspend')
  @Operator()
  async suspendPage(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const tenant = await this.tenants.get(id);
    const counts = await this.console.counts(id);
    return this.render(request, reply, 'operator/suspend', { title: `Suspend ${tenant.name}`, tenant, counts });
  }

  @Post('tenants/:id/suspend')
  @Operator()
  async suspend(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    await this.tenants.update(id, { status: 'suspended' }, { actor: actorOf(principal), client });
    this.redirect(reply, `/operator/tenants/${id}`, 'tenant-suspended');
  }

  @Post('tenants/:id/unsuspend')
  @Operator()
  async unsuspend(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    await this.tenants.update(id, { status: 'active' }, { actor: actorOf(principal), client });
    this.redirect(reply, `/operator/tenants/${id}`, 'tenant-unsuspended');
  }

  @Post('tenants/:id/owner')
  @Operator()
  async inviteOwner(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    await this.tenants.get(id); // 404 before anything else
    const email = text(body, 'email').trim().toLowerCase();
    const { dto, errors } = await checkForm(InviteUserDto, { email, role: 'owner' });
    let error = errors?.email ? 'Enter a valid email address.' : undefined;
    if (!error) {
      try {
        await this.users.invite({ ...principal, tenantId: id }, dto, client);
        return this.redirect(reply, `/operator/tenants/${id}`, 'owner-invited');
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    return this.renderTenant(request, reply, id, { owner: { email, error } }, HttpStatus.BAD_REQUEST);
  }

  /** The tenant's first key (a service key). Post/redirect/get: a reload never makes another one. */
  @Post('tenants/:id/keys')
  @Operator()
  async createKey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    await this.tenants.get(id);
    const values = { name: text(body, 'name').trim(), scopes: list(body, 'scopes') };
    const fields: FieldErrors = {};
    if (!values.name || values.name.length > 200) fields.name = 'Enter a name of 1 to 200 characters.';
    if (!values.scopes.length || values.scopes.some((scope) => !(SCOPES as readonly string[]).includes(scope)))
      fields.scopes = 'Choose at least one scope from the list.';
    if (!Object.keys(fields).length) {
      try {
        const created = await this.keys.create(
          { ...principal, tenantId: id, scopes: [...SCOPES] },
          { name: values.name, scopes: values.scopes, userId: null },
          client,
        );
        reply.setCookie(
          this.keyCookie(),
          this.keyView.seal(created.apiKey, this.keyContext(principal, id, created.id)),
          {
            ...sessionCookieOptions(this.cookies),
            path: `/operator/tenants/${id}/keys`,
            sameSite: 'strict',
            maxAge: 300,
          },
        );
        return reply.redirect(`/operator/tenants/${id}/keys/${created.id}/created`, HttpStatus.SEE_OTHER);
      } catch (caught) {
        fields.name = userError(caught).message;
      }
    }
    return this.renderTenant(request, reply, id, { key: { ...values, errors: fields } }, HttpStatus.BAD_REQUEST);
  }

  /** Shows the new key once: the sealed cookie is read and cleared, so a reload shows nothing. */
  @Get('tenants/:id/keys/:keyId/created')
  @Operator()
  async keyCreated(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Param('keyId', new ParseUUIDPipe()) keyId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const sealed = request.cookies[this.keyCookie()];
    let apiKey: string | undefined;
    try {
      apiKey = sealed ? this.keyView.open(sealed, this.keyContext(principal, id, keyId)) : undefined;
    } catch {
      apiKey = undefined;
    }
    reply.clearCookie(this.keyCookie(), {
      ...sessionCookieOptions(this.cookies),
      path: `/operator/tenants/${id}/keys`,
    });
    if (!apiKey) return this.redirect(reply, `/operator/tenants/${id}`, 'key-seen');
    reply.header('cache-control', 'no-store');
    const tenant = await this.tenants.get(id);
    return this.render(request, reply, 'operator/key-created', { title: 'Key created', tenant, apiKey });
  }

  // --- service-wide audit and usage ---------------------------------------------------------

  @Get('audit')
  @Operator()
  async auditPage(@Query() raw: Record<string, unknown>, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const values: Record<string, string> = {};
    for (const name of ['tenantId', 'action', 'actorType']) {
      const value = typeof raw[name] === 'string' ? (raw[name] as string).trim() : '';
      if (value) values[name] = value;
    }
    const { errors } = await checkForm(AdminListAuditEventsQuery, values);
    const fields: FieldErrors = {};
    if (errors?.tenantId) fields.tenantId = 'Choose a tenant from the list.';
    if (errors?.action) fields.action = 'An action is at most 100 characters, such as tenant.updated.';
    if (errors?.actorType) fields.actorType = 'Choose an actor type from the list.';
    const filter = Object.fromEntries(Object.entries(values).filter(([name]) => !fields[name]));
    const cursor = typeof raw.cursor === 'string' && /^[A-Za-z0-9_-]{1,200}$/.test(raw.cursor) ? raw.cursor : undefined;
    const page = await this.audit.listAll(
      Object.assign(new AdminListAuditEventsQuery(), filter, { cursor, limit: 50 }),
    );
    const names = await this.console.tenantNames(page.items.map((event) => event.tenantId));
    const operatorEmails = await this.console.operatorEmails();
    return this.render(request, reply, 'operator/audit', {
      title: 'Audit, all tenants',
      events: page.items.map((event) => ({
        ...event,
        tenantName: names.get(event.tenantId) ?? event.tenantId,
        actorLabel: this.console.actorLabel(event.actor, operatorEmails),
      })),
      tenants: await this.console.allTenantNames(),
      actorTypes: ACTOR_TYPES,
      values,
      errors: fields,
      olderHref: page.nextCursor
        ? `/operator/audit?${new URLSearchParams({ ...filter, cursor: page.nextCursor })}`
        : null,
    });
  }

  @Get('usage')
  @Operator()
  async usagePage(@Query('days') days: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const span = days === '1' || days === '30' ? Number(days) : 7;
    return this.render(request, reply, 'operator/usage', {
      title: 'Usage, all tenants',
      span,
      spans: [1, 7, 30],
      ...(await this.console.usageByTenant(span)),
    });
  }

  // --- operators ----------------------------------------------------------------------------

  @Get('operators')
  @Operator()
  operatorsPage(
    @Query('before') before: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderOperators(request, reply, { values: {} }, HttpStatus.OK, before);
  }

  @Post('operators')
  @Operator()
  async addOperator(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = { email: text(body, 'email').trim().toLowerCase() };
    const password = text(body, 'password');
    const { dto, errors } = await checkForm(InviteUserDto, { email: values.email, role: 'owner' });
    const fields: FieldErrors = {};
    if (errors?.email) fields.email = 'Enter a valid email address.';
    else {
      try {
        await this.operators.add(principal, { email: dto.email, password: password || undefined }, client);
        return this.redirect(reply, '/operator/operators', 'operator-added');
      } catch (caught) {
        const { message } = userError(caught);
        const code = (caught as AppException).code;
        fields[code === 'WEAK_PASSWORD' || code === 'PASSWORD_REQUIRED' ? 'password' : 'email'] = message;
      }
    }
    return this.renderOperators(request, reply, { values, errors: fields }, HttpStatus.BAD_REQUEST);
  }

  // --- the operator's own second factor (the same factors as everyone, on their person) ------

  @Get('security')
  @Operator()
  async securityPage(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderSecurity(principal, request, reply);
  }

  @Post('security/totp')
  @Operator()
  async startTotp(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const operator = (await this.operators.get(principal.operatorId!))!;
    if ((await this.factors.status(operator.id)).totp) return this.renderSecurity(principal, request, reply);
    const enrolment = await this.factors.startTotp(operator.id, operator.email);
    return this.render(request, reply, 'operator/totp-enrol', { title: 'Set up an authenticator app', ...enrolment });
  }

  @Post('security/totp/confirm')
  @Operator()
  async confirmTotp(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const operator = (await this.operators.get(principal.operatorId!))!;
    const code = text(body, 'code').replace(/\s/g, '');
    let message = 'Enter the 6 digits your app shows.';
    let status: number = HttpStatus.BAD_REQUEST;
    if (/^\d{6}$/.test(code)) {
      try {
        const { recoveryCodes } = await this.dataSource.transaction(async (manager) => {
          const confirmed = await this.factors.confirmTotp(operator.id, code, manager);
          await this.events.record(manager, {
            actor: { type: 'operator', id: operator.id },
            action: 'operator.factor_added',
            target: { type: 'person', id: operator.id },
            metadata: { factor: 'totp' },
            client,
          });
          return confirmed;
        });
        if (!recoveryCodes) return this.redirect(reply, '/operator/security', 'totp-added');
        return this.render(request, reply, 'recovery-codes', {
          title: 'Your recovery codes',
          recoveryCodes,
          next: '/operator/security?flash=totp-added',
        });
      } catch (error) {
        ({ status, message } = userError(error));
      }
    }
    const pending = await this.factors.pendingTotp(operator.id, operator.email);
    if (!pending) return this.renderSecurity(principal, request, reply, status);
    return this.render(
      request,
      reply,
      'operator/totp-enrol',
      { title: 'Set up an authenticator app', ...pending, errors: { code: message } },
      status,
    );
  }

  private async renderSecurity(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    status: number = HttpStatus.OK,
  ) {
    const factors = await this.factors.status(principal.operatorId!);
    return this.render(request, reply, 'operator/security', { title: 'Your sign-in', factors }, status);
  }

  @Post('logout')
  @Operator()
  async logout(@CurrentPrincipal() principal: Principal, @Client() client: ClientInfo, @Res() reply: FastifyReply) {
    await this.operators.endSession(principal, client);
    reply.clearCookie(this.cookies.session, sessionCookieOptions(this.cookies));
    clearCsrfSecret(reply, this.cookies);
    reply.redirect('/login?flash=signed-out', HttpStatus.SEE_OTHER);
  }

  // --- rendering ----------------------------------------------------------------------------

  private async renderTenants(
    request: FastifyRequest,
    reply: FastifyReply,
    raw: Record<string, unknown>,
    extra: Record<string, unknown> = {},
    status = HttpStatus.OK,
  ) {
    const q = typeof raw.q === 'string' ? raw.q.trim().slice(0, 200) : '';
    const asked = typeof raw.page === 'string' && /^\d{1,5}$/.test(raw.page) ? Number(raw.page) : 1;
    const pageNumber = Math.min(Math.max(asked, 1), MAX_PAGE);
    const page = await this.tenants.search(q, pageNumber, PAGE_SIZE);
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    const href = (n: number) => `/operator/tenants?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) })}`;
    const counts = await this.console.countsFor(page.items.map((tenant) => tenant.id));
    return this.render(
      request,
      reply,
      'operator/tenants',
      {
        title: 'Tenants',
        q,
        tenants: page.items.map((tenant) => ({ ...tenant, ...counts.get(tenant.id) })),
        total: page.total,
        pageNumber,
        pages,
        previousHref: pageNumber > 1 ? href(pageNumber - 1) : null,
        nextHref: pageNumber < pages ? href(pageNumber + 1) : null,
        values: {},
        ...extra,
      },
      status,
    );
  }

  private async renderTenant(
    request: FastifyRequest,
    reply: FastifyReply,
    id: string,
    extra: Record<string, unknown> = {},
    status = HttpStatus.OK,
  ) {
    const tenant = await this.tenants.get(id);
    const [members, counts, recent, usage] = await Promise.all([
      this.users.list(id),
      this.console.counts(id),
      this.audit.listAll(Object.assign(new AdminListAuditEventsQuery(), { tenantId: id, limit: 10 })),
      this.console.usageOfTenant(id, 7),
    ]);
    const operatorEmails = await this.console.operatorEmails();
    const emails = new Map(members.map((member) => [member.id, member.email]));
    return this.render(
      request,
      reply,
      'operator/tenant',
      {
        title: tenant.name,
        tenant,
        suspended: tenant.status === 'suspended',
        members,
        counts,
        usage,
        events: recent.items.map((event) => ({
          ...event,
          actorLabel: this.console.actorLabel(event.actor, operatorEmails, emails),
        })),
        scopes: SCOPES,
        limits: {
          maxKeysPerUser: tenant.maxKeysPerUser,
          maxKeysPerTenant: tenant.maxKeysPerTenant,
          maxKeyLifetimeDays: tenant.maxKeyLifetimeDays ?? '',
          rateLimit: tenant.defaultKeyRateLimit.limit,
          rateWindowSeconds: tenant.defaultKeyRateLimit.windowSeconds,
          defaultKeyScopes: tenant.defaultKeyScopes,
        },
        limitErrors: {},
        owner: { email: '' },
        key: { name: 'First key', scopes: tenant.defaultKeyScopes, errors: {} },
        ...extra,
      },
      status,
    );
  }

  private async renderOperators(
    request: FastifyRequest,
    reply: FastifyReply,
    extra: Record<string, unknown>,
    status = HttpStatus.OK,
    before?: string,
  ) {
    const cursor = before && /^\d{1,18}$/.test(before) ? before : undefined;
    const [operators, page] = await Promise.all([this.operators.list(), this.events.list(50, cursor)]);
    const emails = new Map(operators.map((operator) => [operator.id, operator.email]));
    return this.render(
      request,
      reply,
      'operator/operators',
      {
        title: 'Operators',
        operators,
        events: page.items.map((event) => ({ ...event, actorLabel: this.console.actorLabel(event.actor, emails) })),
        olderHref: page.nextBefore ? `/operator/operators?before=${page.nextBefore}` : null,
        ...extra,
      },
      status,
    );
  }

  private async render(
    request: FastifyRequest,
    reply: FastifyReply,
    page: string,
    data: Record<string, unknown>,
    status = HttpStatus.OK,
  ) {
    const principal = request.principal;
    const operator = principal?.operatorId ? await this.operators.get(principal.operatorId) : null;
    const flash = FLASH[String((request.query as { flash?: unknown } | undefined)?.flash)];
    const html = await reply.viewAsync(page, {
      flash,
      ...data,
      csrf: csrfToken(reply),
      operator,
      passwordHint: PASSWORD_HINT,
    });
    reply.status(status).type('text/html; charset=utf-8').send(html);
  }

  private redirect(reply: FastifyReply, to: string, flash: string) {
    reply.redirect(`${to}?flash=${flash}`, HttpStatus.SEE_OTHER);
  }

  private keyCookie(): string {
    return `${this.cookies.secure ? '__Secure-' : ''}kw_operator_key`;
  }

  /** The sealed key opens only for the session, tenant and key it was made for. */
  private keyContext(principal: Principal, tenantId: string, keyId: string): string {
    return `operator key view:${principal.sessionId}:${tenantId}:${keyId}`;
  }
}
