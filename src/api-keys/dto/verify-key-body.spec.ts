import 'reflect-metadata';
import fc from 'fast-check';
import { createValidationPipe } from '../../common/http/validation';
import { SCOPES } from '../../common/auth/scopes';
import { VerifyKeyDto } from './api-keys.dto';

/** The same decorators (inherited) without the hand-written check: class-validator alone. */
class DecoratorsOnly extends VerifyKeyDto {}

const pipe = createValidationPipe();

/** What the pipe makes of a body: the DTO's own properties, or the refusal as the client sees it. */
async function outcome(body: unknown, metatype: new () => object) {
  try {
    const dto = (await pipe.transform(body, { type: 'body', metatype, data: undefined })) as object;
    return { accepted: { ...dto }, isDto: dto instanceof VerifyKeyDto };
  } catch (error) {
    return { refused: (error as { getStatus(): number; getResponse(): unknown }).getResponse() };
  }
}

const KEY = 'kw_live_0123456789abcdefghijklmnopqrstuvwxyzABCD';

describe('POST /v1/keys/verify body: the hand-written check agrees with the decorators', () => {
  it.each([
    [{ key: KEY }],
    [{ key: KEY, requiredScopes: ['keys:read'], permissions: 'orders:read AND admin' }],
    [{ key: KEY, permissions: '' }],
    [{ key: 'x'.repeat(256) }],
  ])('takes %j at once, as the decorators would', async (body) => {
    const quick = await outcome(body, VerifyKeyDto);
    expect(quick).toEqual(await outcome(body, DecoratorsOnly));
    expect(quick.isDto).toBe(true);
    expect(quick.accepted).toEqual(expect.objectContaining(body));
  });

  it.each([
    [{}],
    [{ key: '' }],
    [{ key: 'x'.repeat(257) }],
    [{ key: 42 }],
    [{ key: KEY, extra: 1 }],
    [{ key: KEY, requiredScopes: ['orders:write'] }],
    [{ key: KEY, requiredScopes: ['keys:read', 'keys:read'] }],
    [{ key: KEY, requiredScopes: 'keys:read' }],
    [{ key: KEY, permissions: ['a'] }],
    [[KEY]],
    ['key'],
  ])('refuses %j with the decorators’ 400 and messages', async (body) => {
    const quick = await outcome(body, VerifyKeyDto);
    expect(quick.refused).toEqual(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(quick).toEqual(await outcome(body, DecoratorsOnly));
  });

  it('gives the same answer as the decorators for any body (property test)', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.constant('\ufe0f'),
      fc.constant(KEY),
    );
    const value = fc.oneof(
      text,
      fc.integer(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(fc.oneof(fc.constantFrom(...SCOPES), text), { maxLength: 3 }),
    );
    const body = fc.oneof(
      fc.record(
        { key: fc.oneof(text, value), requiredScopes: value, permissions: value, other: value },
        { requiredKeys: [] },
      ),
      value,
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        expect(await outcome(b, VerifyKeyDto)).toEqual(await outcome(b, DecoratorsOnly));
      }),
      { numRuns: 500 },
    );
  });
});
