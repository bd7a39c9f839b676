import { Body, Controller, Get, HttpStatus, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ACTOR_TYPES, ListAuditEventsQuery, OUTCOMES } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal, Role } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { notFound } from '../common/http/errors';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { PutConfigEntryDto } from '../tenant-config/dto/tenant-config.dto';
import { TenantConfigService } from '../tenant-config/tenant-config.service';
import { InviteUserDto } from '../users/dto/users.dto';
import { MANAGEABLE_ROLES, UsersService } from '../users/users.service';
import { eventRows, keyNames } from './activity';
import { parseJson } from './key-form';
import { checkForm, FieldErrors, PageRenderer, text, userError } from './pages';

const Manages = () => Authenticated({ via: ['session'], roles: ['owner', 'admin'] });

type Form = Record<string, unknown>;

/** Users of the tenant: list, invite, change role, disable. */
@ApiExcludeController()
@Controller('dashboard/users')
export class UsersPagesController {
  constructor(
    private readonly users: UsersService,
    private readonly pages: PageRenderer,
  ) {}

  @Get()
  @Manages()
  usersPage(@CurrentPrincipal() principal: Principal, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.render(principal, request, reply);
  }

  @Post('invitations')
  @Manages()
  async invite(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = { email: text(body, 'email').trim(), role: text(body, 'role') };
    const { dto, errors } = await checkForm(InviteUserDto, values);
    const fields: FieldErrors = {};
    if (errors?.email) fields.email = 'Enter a valid email address.';
    if (errors?.role) fields.role = 'Choose a role.';
    let error: string | undefined;
    if (!Object.keys(fields).length) {
      try {
        await this.users.invite(principal, dto);
        return this.pages.redirect(reply, '/dashboard/users', 'user-invited');
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    return this.render(principal, request, reply, { values, errors: fields, error }, HttpStatus.BAD_REQUEST);
  }

  /** The confirm step of removing someone from the tenant, as a page (the users page offers it as a dialog too). */
  @Get(':id/remove')
  @Manages()
  async removePage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const user = await this.manageable(principal, id);
    return this.pages.render(request, reply, 'user-remove', { title: `Remove ${user.email}`, user });
  }

  @Post(':id/remove')
  @Manages()
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    // Removal ends their sessions and keys in this tenant: it happens only from the confirm step.
    if (text(body, 'confirm') !== 'yes') {
      await this.manageable(principal, id); // someone of another tenant is not found, not asked about
      return this.pages.redirect(reply, `/dashboard/users/${id}/remove`);
    }
    try {
      await this.users.remove(principal, id);
    } catch (caught) {
      const { status: code, message } = userError(caught);
      return this.render(principal, request, reply, { error: message }, code);
    }
    // Whoever removed themself has no session here any more.
    if (id === principal.userId) return this.pages.redirect(reply, '/login', 'signed-out');
    this.pages.redirect(reply, '/dashboard/users', 'user-removed');
  }

  /** The confirm step of disabling someone, as a page (the users page offers it as a dialog too). */
  @Get(':id/disable')
  @Manages()
  async disablePage(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const user = await this.manageable(principal, id);
    return this.pages.render(request, reply, 'user-disable', { title: `Disable ${user.email}`, user });
  }

  /** Someone of the tenant the caller may manage (never the caller): else 404, as for an unknown id. */
  private async manageable(principal: Principal, id: string) {
    const user = (await this.users.list(principal.tenantId!)).find((candidate) => candidate.id === id);
    if (!user || user.id === principal.userId || !MANAGEABLE_ROLES[principal.role!].includes(user.role))
      throw notFound('User');
    return user;
  }

  @Post(':id')
  @Manages()
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const role = text(body, 'role') || undefined;
    const status = text(body, 'status') || undefined;
    // Disabling revokes the person's keys for good: it happens only from the confirm step.
    if (status === 'disabled' && text(body, 'confirm') !== 'yes') {
      await this.manageable(principal, id); // someone of another tenant is not found, not asked about
      return this.pages.redirect(reply, `/dashboard/users/${id}/disable`);
    }
    if (
      (role && !(MANAGEABLE_ROLES.owner as string[]).includes(role)) ||
      (status && status !== 'active' && status !== 'disabled')
    ) {
      return this.render(
        principal,
        request,
        reply,
        { error: 'Choose a role or status from the list.' },
        HttpStatus.BAD_REQUEST,
      );
    }
    try {
      await this.users.update(principal, id, {
        role: role as Role | undefined,
        status: status as 'active' | 'disabled' | undefined,
      });
    } catch (caught) {
      const { status: code, message } = userError(caught);
      return this.render(principal, request, reply, { error: message }, code);
    }
    this.pages.redirect(reply, '/dashboard/users', 'user-updated');
  }

  private async render(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    extra: Record<string, unknown> = {},
    status = HttpStatus.OK,
  ) {
    const roles = MANAGEABLE_ROLES[principal.role!];
    const users = (await this.users.list(principal.tenantId!)).map((user) => ({
      ...user,
      self: user.id === principal.userId,
      manageable: user.id !== principal.userId && roles.includes(user.role),
    }));
    return this.pages.render(
      request,
      reply,
      'users',
      { title: 'Users', users, roles, values: { role: 'member' }, ...extra },
      status,
    );
  }
}

/** Configuration entries: list (secrets masked), add/edit, delete. */
@ApiExcludeController()
@Controller('dashboard/config')
export class ConfigPagesController {
  constructor(
    private readonly config: TenantConfigService,
    private readonly pages: PageRenderer,
  ) {}

  /** The confirm step of deleting an entry, as a page (the list offers it as a dialog too). */
  @Get(':key/delete')
  @Manages()
  async deletePage(
    @CurrentPrincipal() principal: Principal,
    @Param('key') key: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const entry = (await this.config.list(principal.tenantId!)).find((candidate) => candidate.key === key);
    if (!entry) throw notFound('Configuration entry');
    return this.pages.render(request, reply, 'config-delete', { title: `Delete ${entry.key}`, entry });
  }

  @Get()
  @Manages()
  async configPage(
    @CurrentPrincipal() principal: Principal,
    @Query('edit') edit: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const entries = await this.config.list(principal.tenantId!);
    const editing = entries.find((entry) => entry.key === edit);
    const values = editing
      ? { key: editing.key, value: editing.secret ? '' : JSON.stringify(editing.value), secret: editing.secret }
      : {};
    return this.render(principal, request, reply, { values, editing: Boolean(editing) });
  }

  @Post()
  @Manages()
  async save(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = {
      key: text(body, 'key').trim(),
      value: text(body, 'value'),
      type: text(body, 'type') === 'text' ? 'text' : 'json',
      secret: text(body, 'secret') === 'on',
    };
    const errors: FieldErrors = {};
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(values.key))
      errors.key = 'Use 1 to 128 letters, digits, dots, dashes or underscores, starting with a letter or digit.';
    // The form says JSON unless "text" is chosen: JSON that does not parse is refused, never kept as a string.
    const parsed: { value: unknown } | { error: string } =
      values.type === 'text' ? { value: values.value } : parseJson(values.value.trim());
    if ('error' in parsed) errors.value = parsed.error;
    const dto = Object.assign(new PutConfigEntryDto(), {
      value: 'value' in parsed ? parsed.value : null,
      secret: values.secret,
    });
    if (!errors.value && (await checkForm(PutConfigEntryDto, dto)).errors)
      errors.value = 'The value must be at most 16 kB.';
    let error: string | undefined;
    if (!Object.keys(errors).length) {
      try {
        await this.config.put(principal, values.key, dto, client);
        return this.pages.redirect(reply, '/dashboard/config', 'config-saved');
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    // A secret value typed in is not sent back to the browser.
    return this.render(
      principal,
      request,
      reply,
      { values: { ...values, value: values.secret ? '' : values.value }, errors, error },
      HttpStatus.BAD_REQUEST,
    );
  }

  /** Shows one secret's value on this response only; the reveal is audited. */
  @Post(':key/reveal')
  @Manages()
  async reveal(
    @CurrentPrincipal() principal: Principal,
    @Param('key') key: string,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const value = await this.config.revealSecret(principal, key, client);
    return this.render(principal, request, reply, { values: {}, revealed: { key, value: JSON.stringify(value) } });
  }

  @Post(':key/delete')
  @Manages()
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param('key') key: string,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    if (text(body, 'confirm') !== 'yes') {
      if (!(await this.config.list(principal.tenantId!)).some((entry) => entry.key === key))
        throw notFound('Configuration entry');
      return this.pages.redirect(reply, `/dashboard/config/${encodeURIComponent(key)}/delete`);
    }
    await this.config.remove(principal, key, client);
    this.pages.redirect(reply, '/dashboard/config', 'config-deleted');
  }

  private async render(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    extra: Record<string, unknown>,
    status = HttpStatus.OK,
  ) {
    const revealed = extra.revealed as { key: string; value: string } | undefined;
    const entries = (await this.config.list(principal.tenantId!)).map((entry) => {
      const open = entry.secret && entry.key === revealed?.key;
      return {
        ...entry,
        shown: open ? revealed!.value : entry.secret ? entry.value : JSON.stringify(entry.value),
        revealed: open,
      };
    });
    return this.pages.render(request, reply, 'config', { title: 'Configuration', entries, ...extra }, status);
  }
}

const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;

/** Audit log: filters, older pages, CSV download (the API's export) and the chain check. */
@ApiExcludeController()
@Controller('dashboard/audit')
export class AuditPagesController {
  constructor(
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly keys: ApiKeysService,
    private readonly pages: PageRenderer,
  ) {}

  /** One event in full: who, what, from where (address, browser, request id) and its metadata. */
  @Get(':id')
  @Manages()
  async eventPage(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const tenantId = principal.tenantId!;
    const event = /^\d{1,18}$/.test(id) ? await this.audit.getForTenant(tenantId, id) : null;
    if (!event) throw notFound('Audit event');
    const emails = new Map((await this.users.list(tenantId)).map((user) => [user.id, user.email]));
    const [row] = eventRows([event], emails, await keyNames(this.keys, principal, [event]));
    return this.pages.render(request, reply, 'audit-event', { title: `Audit event ${event.seq}`, event: row });
  }

  @Get()
  @Manages()
  async auditPage(
    @CurrentPrincipal() principal: Principal,
    @Query() raw: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const tenantId = principal.tenantId!;
    const { filter, values, errors } = await auditFilter(raw);
    const cursor = typeof raw.cursor === 'string' && raw.cursor ? raw.cursor : undefined;
    const page = await this.audit.listForTenant(
      tenantId,
      Object.assign(new ListAuditEventsQuery(), filter, { cursor, limit: PAGE_SIZE }),
    );
    const emails = new Map((await this.users.list(tenantId)).map((user) => [user.id, user.email]));
    const verification = await this.audit.verify(tenantId);
    const filterQuery = new URLSearchParams(values);
    return this.pages.render(request, reply, 'audit', {
      title: 'Audit log',
      events: eventRows(page.items, emails, await keyNames(this.keys, principal, page.items)),
      values,
      errors,
      actorTypes: ACTOR_TYPES,
      outcomes: OUTCOMES,
      olderHref: page.nextCursor
        ? `/dashboard/audit?${new URLSearchParams({ ...values, cursor: page.nextCursor })}`
        : null,
      newestHref: cursor ? `/dashboard/audit?${filterQuery}` : null,
      csvHref: `/v1/audit-events?${new URLSearchParams({ ...filter, format: 'csv' })}`,
      verification,
    });
  }
}

/**
 * The filters of the audit page as the API's query: dates (YYYY-MM-DD, UTC) become the start
 * of `from` and the end of `to`. A filter that is not valid is reported and left out.
 */
async function auditFilter(raw: Record<string, unknown>) {
  const values: Record<string, string> = {};
  for (const name of ['action', 'actorType', 'outcome', 'from', 'to']) {
    const value = typeof raw[name] === 'string' ? (raw[name] as string).trim() : '';
    if (value) values[name] = value;
  }
  const errors: FieldErrors = {};
  const day = (name: 'from' | 'to', offset: number): string | undefined => {
    if (!values[name]) return undefined;
    const start = /^\d{4}-\d{2}-\d{2}$/.test(values[name]) ? Date.parse(`${values[name]}T00:00:00.000Z`) : NaN;
    if (Number.isNaN(start)) {
      errors[name] = 'Enter a date as YYYY-MM-DD.';
      return undefined;
    }
    return new Date(start + offset).toISOString();
  };
  const asked = {
    action: values.action,
    actorType: values.actorType,
    outcome: values.outcome,
    from: day('from', 0),
    to: day('to', DAY_MS),
  };
  const { errors: invalid } = await checkForm(ListAuditEventsQuery, asked);
  if (invalid?.action) errors.action = 'An action is at most 100 characters, such as key.created.';
  if (invalid?.actorType) errors.actorType = 'Choose an actor type from the list.';
  if (invalid?.outcome) errors.outcome = 'Choose an outcome from the list.';
  const filter = Object.fromEntries(
    Object.entries(asked).filter(([name, value]) => value !== undefined && !errors[name]),
  ) as Record<string, string>;
  return { filter, values, errors };
}
