import { InitTenants1795320000000 } from './1795320000000-InitTenants';

/** Every migration, oldest first. Add new ones at the end. */
export const MIGRATIONS: Function[] = [InitTenants1795320000000];
