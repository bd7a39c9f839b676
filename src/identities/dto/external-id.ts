import { registerDecorator } from 'class-validator';

/**
 * An identity's id in the tenant's own system: 1-128 characters of letters, digits and
 * `_ . : @ + ~ -`, starting with a letter or digit. Enough for user ids, org slugs, UUIDs and
 * e-mail addresses, and safe in a URL path without surprises.
 */
export const EXTERNAL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@+~-]{0,127}$/;

export const EXTERNAL_ID_MESSAGE =
  'must be 1-128 characters of letters, digits and _ . : @ + ~ -, starting with a letter or digit';

export const isExternalId = (value: unknown): value is string =>
  typeof value === 'string' && EXTERNAL_ID_PATTERN.test(value);

export function IsExternalId(options: { nullable?: boolean } = {}) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isExternalId',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => (options.nullable && value === null) || isExternalId(value),
        defaultMessage: () => `${propertyName} ${EXTERNAL_ID_MESSAGE}${options.nullable ? ', or null' : ''}`,
      },
    });
}
