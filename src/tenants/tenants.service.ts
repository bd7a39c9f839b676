import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ADMIN_ACTOR, AuditActor, AuditClient } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppException } from '../common/http/problem';
import { isUniqueViolation, notFound } from '../common/http/errors';
import { Page, PageQuery } from '../common/http/pagination';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { Tenant } from './tenant.entity';
import { CreateTenantDto, slugify, TenantDto, toTenantDto, UpdateTenantDto } from './dto/tenants.dto';

/** Who changes a tenant, for its audit trail: the admin token unless an operator is named. */
export interface TenantChangeBy {
  actor: AuditActor;
  client?: AuditClient;
}

const BY_ADMIN_TOKEN: TenantChangeBy = { actor: ADMIN_ACTOR };

@Injectable()
export class TenantsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly invalidations: InvalidationBus,
    private readonly audit: AuditService,
  ) {}

  private get repository() {
    return this.dataSource.getRepository(Tenant);
  }

  async create(dto: CreateTenantDto, by: TenantChangeBy = BY_ADMIN_TOKEN): Promise<TenantDto> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        const tenants = manager.getRepository(Tenant);
        const tenant = await tenants.save(tenants.create({ name: dto.name, slug: dto.slug ?? slugify(dto.name) }));
        await this.audit.record(manager, {
          tenantId: tenant.id,
          actor: by.actor,
          action: 'tenant.created',
          target: { type: 'tenant', id: tenant.id },
          client: by.client,
          metadata: { name: tenant.name, slug: tenant.slug },
        });
        return toTenantDto(tenant);
      });
    } catch (error) {
      if (isUniqueViolation(error, 'tenants_slug_key'))
        throw new AppException(HttpStatus.CONFLICT, 'TENANT_SLUG_TAKEN', 'A tenant with this slug already exists');
      throw error;
    }
  }

  async list(query: PageQuery): Promise<Page<TenantDto>> {
    const [rows, total] = await this.repository.findAndCount({
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: (query.page - 1) * query.limit,
      take: query.limit,
    });
    return { items: rows.map(toTenantDto), page: query.page, limit: query.limit, total };
  }

  /** The console's list: a name or slug containing `search` (any case), newest first. */
  async search(search: string, page: number, limit: number): Promise<Page<TenantDto>> {
    const qb = this.repository.createQueryBuilder('t');
    if (search) {
      const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.where('(lower(t.name) LIKE :pattern OR t.slug LIKE :pattern)', { pattern });
    }
    const [rows, total] = await qb
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .skip((page - 1) * limit)
      .take(limit)
      .getManyAndCount();
    return { items: rows.map(toTenantDto), page, limit, total };
  }

  async get(id: string): Promise<TenantDto> {
    return toTenantDto(await this.findOrFail(id));
  }

  async update(id: string, dto: UpdateTenantDto, by: TenantChangeBy = BY_ADMIN_TOKEN): Promise<TenantDto> {
    const changes = Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined));
    const saved = await this.dataSource.transaction(async (manager) => {
      const tenant = await manager.getRepository(Tenant).findOneBy({ id });
      if (!tenant) throw notFound('Tenant');
      Object.assign(tenant, changes);
      const result = await manager.getRepository(Tenant).save(tenant);
      // Tenant settings hold no secret: the new values are recorded as they are.
      await this.audit.record(manager, {
        tenantId: id,
        actor: by.actor,
        action: 'tenant.updated',
        target: { type: 'tenant', id },
        client: by.client,
        metadata: { changes },
      });
      return result;
    });
    // A suspension must take effect on the very next request, not when a cache expires.
    await this.invalidations.publish({ kind: 'tenant', tenantId: id });
    return toTenantDto(saved);
  }

  async findOrFail(id: string): Promise<Tenant> {
    const tenant = await this.repository.findOneBy({ id });
    if (!tenant) throw notFound('Tenant');
    return tenant;
  }
}
