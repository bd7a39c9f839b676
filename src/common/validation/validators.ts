import { registerDecorator } from 'class-validator';

/**
 * Validators that answer a wrong value with one message saying what is expected, instead of
 * class-validator's stack of per-rule messages ("must not be less than 1, must not be greater
 * than 3650, must be an integer number" for the string "30").
 */

/** A whole number from min to max. */
export function IsIntBetween(min: number, max: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isIntBetween',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max,
        defaultMessage: () => `${propertyName} must be a whole number from ${min} to ${max}`,
      },
    });
}

/** A list of distinct names from `allowed`; `nonEmpty` refuses `[]`. */
export function IsNameList(allowed: readonly string[], what: string, options: { nonEmpty?: boolean } = {}) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isNameList',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => nameListProblem(value, allowed, options.nonEmpty) === undefined,
        defaultMessage: (args) =>
          `${propertyName} ${nameListProblem(args?.value, allowed, options.nonEmpty) ?? 'is invalid'}`.replace(
            '{what}',
            what,
          ),
      },
    });
}

export function nameListProblem(value: unknown, allowed: readonly string[], nonEmpty?: boolean): string | undefined {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    return `must be an array of {what} names, such as ["${allowed[0]}"]`;
  if (nonEmpty && value.length === 0) return `must name at least one {what} (an empty list would allow nothing)`;
  const unknown = value.filter((item) => !allowed.includes(item));
  if (unknown.length) return `has unknown {what} names: ${unknown.join(', ')} (known: ${allowed.join(', ')})`;
  if (new Set(value).size !== value.length) return 'must not name a {what} twice';
  return undefined;
}
