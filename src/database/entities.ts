import { Tenant } from '../tenants/tenant.entity';

/** Every entity TypeORM maps; the schema itself comes only from migrations/. */
export const ENTITIES = [Tenant];
