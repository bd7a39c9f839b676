import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppException } from '../common/http/problem';
import { isUniqueViolation, notFound } from '../common/http/errors';
import { Page, PageQuery } from '../common/http/pagination';
import { KeyEventsService } from '../api-keys/key-events.service';
import { SessionsService } from '../sessions/sessions.service';
import { Tenant } from './tenant.entity';
import { CreateTenantDto, slugify, TenantDto, toTenantDto, UpdateTenantDto } from './tenants.dto';

@Injectable()
export class TenantsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sessions: SessionsService,
    private readonly keyEvents: KeyEventsService,
  ) {}

  private get repository() {
    return this.dataSource.getRepository(Tenant);
  }

  async create(dto: CreateTenantDto): Promise<TenantDto> {
    try {
      return toTenantDto(await this.repository.save(this.repository.create({ name: dto.name, slug: dto.slug ?? slugify(dto.name) })));
    } catch (error) {
      if (isUniqueViolation(error, 'tenants_slug_key')) throw new AppException(HttpStatus.CONFLICT, 'TENANT_SLUG_TAKEN', 'A tenant with this slug already exists');
      throw error;
    }
  }

  async list(query: PageQuery): Promise<Page<TenantDto>> {
    const [rows, total] = await this.repository.findAndCount({ order: { createdAt: 'ASC', id: 'ASC' }, skip: (query.page - 1) * query.limit, take: query.limit });
    return { items: rows.map(toTenantDto), page: query.page, limit: query.limit, total };
  }

  async get(id: string): Promise<TenantDto> {
    return toTenantDto(await this.findOrFail(id));
  }

  async update(id: string, dto: UpdateTenantDto): Promise<TenantDto> {
    const tenant = await this.findOrFail(id);
    Object.assign(tenant, Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined)));
    const saved = await this.repository.save(tenant);
    // A suspension must take effect on the very next request, not when a cache expires.
    this.sessions.forgetTenant(id);
    await this.keyEvents.publish({ tenantId: id });
    return toTenantDto(saved);
  }

  async findOrFail(id: string): Promise<Tenant> {
    const tenant = await this.repository.findOneBy({ id });
    if (!tenant) throw notFound('Tenant');
    return tenant;
  }
}
