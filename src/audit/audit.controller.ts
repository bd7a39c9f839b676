import { Controller, Get, Query, StreamableFile } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Readable } from 'node:stream';
import { AdminToken, Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { CSV_HEADER, csvRow } from './audit-csv';
import { AdminListAuditEventsQuery, AuditEventDto, ListAuditEventsQuery } from './dto/audit.dto';
import { AuditService } from './audit.service';
import { ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { AuditEventPageResponse, ChainVerificationResponse } from './dto/audit-responses.dto';

const CanReadAudit = () =>
  Authenticated({ via: ['jwt', 'session', 'apiKey'], roles: ['owner', 'admin'], scopes: ['audit:read'] });

/** Streams events as CSV, one page of rows at a time. */
function csvFile(events: AsyncGenerator<AuditEventDto>): StreamableFile {
  async function* lines() {
    yield CSV_HEADER;
    for await (const event of events) yield csvRow(event);
  }
  return new StreamableFile(Readable.from(lines()), {
    type: 'text/csv; charset=utf-8',
    disposition: 'attachment; filename="audit-events.csv"',
  });
}

function filterOf<T extends ListAuditEventsQuery>(query: T): Omit<T, 'cursor' | 'limit' | 'format'> {
  const { cursor: _cursor, limit: _limit, format: _format, ...filter } = query;
  return filter;
}

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @CanReadAudit()
  @ApiOperation({
    summary: 'The tenant’s audit events, newest first (filters, cursor paging; ?format=csv streams them all)',
  })
  @ApiOkResponse({
    description: 'A page of events as JSON; with ?format=csv, every matching event as CSV',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(AuditEventPageResponse) } },
      'text/csv': { schema: { type: 'string', description: 'Header row, then one row per event' } },
    },
  })
  @ApiExtraModels(AuditEventPageResponse)
  @ApiProblems(400)
  listAuditEvents(@CurrentPrincipal() principal: Principal, @Query() query: ListAuditEventsQuery) {
    if (query.format === 'csv') return csvFile(this.audit.streamForTenant(principal.tenantId!, filterOf(query)));
    return this.audit.listForTenant(principal.tenantId!, query);
  }

  @Get('verify')
  @CanReadAudit()
  @ApiOperation({ summary: 'Recompute the tenant’s hash chain and report the first broken link' })
  @ApiOkResponse({ type: ChainVerificationResponse })
  verifyAuditChain(@CurrentPrincipal() principal: Principal) {
    return this.audit.verify(principal.tenantId!);
  }
}

@ApiTags('admin')
@Controller('admin/audit-events')
export class AdminAuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @AdminToken()
  @ApiOperation({ summary: 'Audit events of every tenant (filter by tenantId), newest first' })
  @ApiOkResponse({
    description: 'A page of events as JSON; with ?format=csv, every matching event as CSV',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(AuditEventPageResponse) } },
      'text/csv': { schema: { type: 'string', description: 'Header row, then one row per event' } },
    },
  })
  @ApiExtraModels(AuditEventPageResponse)
  @ApiProblems(400)
  adminListAuditEvents(@Query() query: AdminListAuditEventsQuery) {
    if (query.format === 'csv') return csvFile(this.audit.streamAll(filterOf(query)));
    return this.audit.listAll(query);
  }
}
