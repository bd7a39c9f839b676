import { ApiKeyDto, UpdateApiKeyDto } from '../api-keys/dto/api-keys.dto';
import { isCidr } from '../api-keys/ip-allowlist';
import { checkForm, FieldErrors, list, text } from './pages';

type Form = Record<string, unknown>;

const DAY_MS = 86_400_000;

/** What the key page's form shows for a key (also what it shows back after an error). */
export function keyFormValues(key: ApiKeyDto) {
  return {
    name: key.name,
    expiresOn: key.expiresAt ? new Date(new Date(key.expiresAt).getTime() - 1).toISOString().slice(0, 10) : '',
    rateLimit: key.rateLimit ? String(key.rateLimit.limit) : '',
    rateWindow: key.rateLimit ? String(key.rateLimit.windowSeconds) : '',
    quotaRemaining: key.quota ? String(key.quota.remaining) : '',
    refillAmount: key.quota?.refill ? String(key.quota.refill.amount) : '',
    refillInterval: key.quota?.refill?.interval ?? '',
    ipAllowlist: (key.ipAllowlist ?? []).join('\n'),
    metadata: JSON.stringify(key.metadata ?? {}, null, 2),
    permissions: (key.permissions ?? []).join('\n'),
    roles: (key.roles ?? []).join('\n'),
  };
}

export type KeyFormValues = ReturnType<typeof keyFormValues>;

/**
 * The key page's form as the API's PATCH body, holding only what changed (so the audit trail
 * names only those fields, and a quota being spent is not reset by a save that did not touch
 * it). Every field that cannot be read gets a message a person can act on.
 */
export async function keyChanges(
  key: ApiKeyDto,
  body: Form,
  now: Date,
): Promise<{ dto: UpdateApiKeyDto; values: KeyFormValues; errors: FieldErrors }> {
  const was = keyFormValues(key);
  const values: KeyFormValues = {
    name: text(body, 'name').trim(),
    expiresOn: text(body, 'expiresOn').trim(),
    rateLimit: text(body, 'rateLimit').trim(),
    rateWindow: text(body, 'rateWindow').trim(),
    quotaRemaining: text(body, 'quotaRemaining').trim(),
    refillAmount: text(body, 'refillAmount').trim(),
    refillInterval: text(body, 'refillInterval').trim(),
    ipAllowlist: text(body, 'ipAllowlist'),
    metadata: text(body, 'metadata'),
    permissions: text(body, 'permissions'),
    roles: text(body, 'roles'),
  };
  const errors: FieldErrors = {};
  const dto = new UpdateApiKeyDto();

  if (!values.name || values.name.length > 100) errors.name = 'Give the key a name of 1 to 100 characters.';
  else if (values.name !== key.name) dto.name = values.name;

  const scopes = list(body, 'scopes');
  if (!scopes.length) errors.scopes = 'Keep at least one scope (or revoke the key).';
  else if (scopes.length !== key.scopes.length || scopes.some((scope) => !key.scopes.includes(scope)))
    dto.scopes = scopes;

  if (values.expiresOn !== was.expiresOn) {
    const start = /^\d{4}-\d{2}-\d{2}$/.test(values.expiresOn) ? Date.parse(`${values.expiresOn}T00:00:00Z`) : NaN;
    if (!values.expiresOn) errors.expiresOn = 'An expiry can be made earlier, not removed.';
    else if (Number.isNaN(start)) errors.expiresOn = 'Enter a date as YYYY-MM-DD.';
    else if (start + DAY_MS <= now.getTime()) errors.expiresOn = 'Choose today or a later day.';
    // The key works through the day chosen (UTC).
    else dto.expiresAt = new Date(start + DAY_MS).toISOString();
  }

  if (values.rateLimit !== was.rateLimit || values.rateWindow !== was.rateWindow) {
    const limit = wholeNumber(values.rateLimit, 1, 1_000_000, 'rateLimit', 'The request limit', errors);
    const windowSeconds = wholeNumber(values.rateWindow, 1, 86_400, 'rateWindow', 'The window', errors);
    if (!errors.rateLimit && !errors.rateWindow) {
      if ((limit === undefined) !== (windowSeconds === undefined))
        errors.rateLimit = 'Give both the request limit and the window, or neither (the tenant’s default).';
      else dto.rateLimit = limit === undefined ? null! : { limit, windowSeconds: windowSeconds! };
    }
  }

  // The remaining uses are compared with what the page showed, not with the key now: uses
  // spent since the page was opened are not given back by a save that did not touch them.
  const shownRemaining = text(body, 'quotaRemainingShown').trim();
  const quotaTouched =
    values.quotaRemaining !== shownRemaining ||
    values.refillAmount !== was.refillAmount ||
    values.refillInterval !== was.refillInterval;
  if (quotaTouched) {
    const remaining = wholeNumber(values.quotaRemaining, 0, 1_000_000_000, 'quotaRemaining', 'Uses left', errors);
    const amount = wholeNumber(values.refillAmount, 1, 1_000_000_000, 'refillAmount', 'The refill', errors);
    const interval = values.refillInterval;
    if (interval && interval !== 'day' && interval !== 'month') errors.refillInterval = 'Choose day or month.';
    if (!errors.quotaRemaining && !errors.refillAmount && !errors.refillInterval) {
      if ((amount === undefined) !== !interval)
        errors.refillAmount = 'Give both the refill amount and how often, or neither.';
      else if (remaining === undefined && amount !== undefined)
        errors.quotaRemaining = 'Give the uses left as well, or clear the refill.';
      else
        dto.quota =
          remaining === undefined
            ? null
            : {
                remaining,
                ...(amount !== undefined ? { refill: { amount, interval: interval as 'day' | 'month' } } : {}),
              };
    }
  }

  const addresses = words(values.ipAllowlist);
  if (addresses.join('\n') !== was.ipAllowlist) {
    const wrong = addresses.filter((entry) => !isCidr(entry));
    if (wrong.length)
      errors.ipAllowlist = `Not an IP address or CIDR range: ${wrong.slice(0, 3).join(', ')}${wrong.length > 3 ? ', …' : ''}`;
    else if (addresses.length > 50) errors.ipAllowlist = 'At most 50 addresses or ranges.';
    else dto.ipAllowlist = addresses;
  }

  const metadata = parseObject(values.metadata.trim() || '{}');
  if ('error' in metadata) errors.metadata = metadata.error;
  else if (JSON.stringify(metadata.value) !== JSON.stringify(key.metadata ?? {})) dto.metadata = metadata.value;

  // Permissions and roles: names one per line (or separated by commas or spaces), sent only when changed.
  for (const field of ['permissions', 'roles'] as const) {
    const names = [...new Set(words(values[field]))].sort();
    if (names.join('\n') !== [...(key[field] ?? [])].sort().join('\n')) dto[field] = names;
  }

  // The API's own rules last (sizes, ranges), for anything the checks above let through.
  const checked = await checkForm(UpdateApiKeyDto, dto);
  for (const [field, message] of Object.entries(checked.errors ?? {})) {
    const name = field.startsWith('quota') ? 'quotaRemaining' : field.startsWith('rateLimit') ? 'rateLimit' : field;
    errors[name] ??= field === 'metadata' ? 'Metadata must be a JSON object of at most 4 kB.' : message;
  }
  return { dto, values, errors };
}

/** The entries of a list typed one per line (or separated by commas or spaces). */
function words(raw: string): string[] {
  return raw
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** A JSON object typed in a form, or the reason it is not one (the parser's words, with the place). */
export function parseObject(raw: string): { value: Record<string, unknown> } | { error: string } {
  const parsed = parseJson(raw);
  if ('error' in parsed) return parsed;
  if (typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value))
    return { error: 'Metadata must be a JSON object, such as {"team": "billing"}.' };
  return { value: parsed.value as Record<string, unknown> };
}

/** JSON.parse with a message fit for a form: `{"rps": 5,}` is refused, not stored as text. */
export function parseJson(raw: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(raw) };
  } catch (caught) {
    const detail = (caught as Error).message.replace(/^JSON\.parse: /, '');
    return { error: `This is not valid JSON (${detail}). Check for a trailing comma or missing quotes.` };
  }
}

/** Parses an optional whole number from a form field; records a message when it is not one. */
export function wholeNumber(
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
