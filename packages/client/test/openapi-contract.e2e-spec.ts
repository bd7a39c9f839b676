import {
  errorBodySchema,
  KeywardClient,
  VERIFY_KEY_OPERATION,
  verifyKeyRequestSchema,
  verifyKeyResponseSchema,
} from '../src';
import { Service, startService } from './service';

/**
 * The client's request and response types against the service's OpenAPI document (/docs/json).
 * Where the document does not describe a response yet, the live answers are checked against
 * the client's schema instead, so the check holds both before and after the document has one.
 */

type Schema = Record<string, any>;
/** A schema reduced to what a TypeScript type says: property names, required ones, and each type. */
interface Shape {
  required: string[];
  properties: Record<string, string>;
}

let service: Service;
let doc: Schema;
beforeAll(async () => {
  service = await startService();
  const res = await fetch(`${service.url}/docs/json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Schema;
});
afterAll(() => service?.close());

const operation = () => doc.paths[VERIFY_KEY_OPERATION.path]?.[VERIFY_KEY_OPERATION.method];

function resolve(schema: Schema | undefined): Schema | undefined {
  const ref: string | undefined = schema?.$ref;
  if (!ref) return schema;
  return resolve(
    ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: any, part) => node?.[part], doc),
  );
}

/** A property's type as one string: `string`, `string|null`, `array<string>`, or `any`. */
function typeOf(raw: Schema | undefined): string {
  const schema = resolve(raw) ?? {};
  const parts: Schema[] = [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  const types = new Set<string>(parts.flatMap((part) => typeOf(part).split('|')));
  const declared: string[] = [schema.type ?? []].flat();
  if (!declared.length && 'const' in schema) declared.push(schema.const === null ? 'null' : typeof schema.const);
  if (!declared.length && schema.properties) declared.push('object');
  for (const type of declared) {
    if (type === 'array') types.add(`array<${typeOf(schema.items)}>`);
    else types.add(type === 'integer' ? 'number' : type);
  }
  if (schema.nullable) types.add('null');
  if (!types.size || types.has('any')) return 'any';
  return [...types].sort().join('|');
}

/** Properties of every branch; required: what every branch (oneOf/anyOf) or any part (allOf) requires. */
function shapeOf(raw: Schema | undefined): Shape {
  const schema = resolve(raw) ?? {};
  const branches: Schema[] = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].map((b) => resolve(b) ?? {});
  const merged: Shape = { required: [...(schema.required ?? [])], properties: {} };
  for (const [name, property] of Object.entries<Schema>(schema.properties ?? {}))
    merged.properties[name] = typeOf(property);
  for (const part of schema.allOf ?? []) {
    const inner = shapeOf(part);
    merged.required.push(...inner.required);
    Object.assign(merged.properties, inner.properties);
  }
  if (branches.length) {
    const shapes = branches.map(shapeOf);
    const required = shapes.map((s) => s.required).reduce((a, b) => a.filter((name) => b.includes(name)));
    merged.required.push(...required);
    for (const s of shapes) {
      for (const [name, type] of Object.entries(s.properties)) {
        const known = merged.properties[name];
        merged.properties[name] =
          known && known !== type ? [...new Set([...known.split('|'), ...type.split('|')])].sort().join('|') : type;
      }
    }
  }
  return { required: [...new Set(merged.required)].sort(), properties: merged.properties };
}

/** `any` on either side (e.g. `details`) matches whatever the other side says. */
function expectSameShape(documented: Shape, client: Shape) {
  const loosen = (shape: Shape, other: Shape) => ({
    required: shape.required,
    properties: Object.fromEntries(
      Object.entries(shape.properties).map(([name, type]) => [name, other.properties[name] === 'any' ? 'any' : type]),
    ),
  });
  expect(loosen(documented, client)).toEqual(loosen(client, documented));
}

/** Checks a live JSON value against the client's schema: no missing, unknown or mistyped field. */
function violations(value: unknown, schema: Schema, path = '$'): string[] {
  const type = typeOf(schema);
  if (type === 'any') return [];
  if (value === null) return type.split('|').includes('null') ? [] : [`${path} is null`];
  if (Array.isArray(value)) {
    const item = schema.items ?? {};
    return type.startsWith('array')
      ? value.flatMap((v, i) => violations(v, item, `${path}[${i}]`))
      : [`${path} is an array`];
  }
  if (typeof value === 'object') {
    if (!schema.properties) return [`${path} is an object`];
    const body = value as Record<string, unknown>;
    return [
      ...(schema.required ?? [])
        .filter((name: string) => !(name in body))
        .map((name: string) => `${path}.${name} is missing`),
      ...Object.keys(body)
        .filter((name) => !(name in schema.properties))
        .map((name) => `${path}.${name} is not in the client's type`),
      ...Object.entries(body)
        .filter(([name]) => name in schema.properties)
        .flatMap(([name, v]) => violations(v, schema.properties[name], `${path}.${name}`)),
    ];
  }
  return type.split('|').includes(typeof value) ? [] : [`${path} is a ${typeof value}, not ${type}`];
}

it('documents the operation the client calls, authenticated by an x-api-key header', () => {
  const op = operation();
  expect(op).toBeDefined();
  const schemes = (op.security ?? doc.security ?? []).flatMap((requirement: Schema) => Object.keys(requirement));
  expect(schemes.map((name: string) => doc.components.securitySchemes[name])).toContainEqual(
    expect.objectContaining({ type: 'apiKey', in: 'header', name: VERIFY_KEY_OPERATION.apiKeyHeader }),
  );
});

it("the client's request type is the document's request body (VerifyKeyDto)", () => {
  const body = operation().requestBody?.content?.['application/json']?.schema;
  expect(body).toBeDefined();
  expectSameShape(shapeOf(body), shapeOf(verifyKeyRequestSchema));
});

it("the client's answer type is the document's 200 schema, or — while there is none — every live answer", async () => {
  const documented = operation().responses?.['200']?.content?.['application/json']?.schema;
  if (documented) expectSameShape(shapeOf(documented), shapeOf(verifyKeyResponseSchema));

  const kw = new KeywardClient({ baseUrl: service.url, apiKey: service.verifier.apiKey, cacheTtlMs: 0 });
  const valid = await service.issue();
  const answers = {
    valid: await kw.verifyKey(valid.apiKey),
    'missing scope': await kw.verifyKey(valid.apiKey, { requiredScopes: ['keys:write'] }),
    unknown: await kw.verifyKey((await service.issue({ tenantId: await service.otherTenant() })).apiKey),
  };
  expect(Object.values(answers).map((a) => a.code)).toEqual(['VALID', 'INSUFFICIENT_SCOPE', 'KEY_NOT_FOUND']);
  for (const answer of Object.values(answers)) expect(violations(answer, verifyKeyResponseSchema)).toEqual([]);
});

it("the client's error type is the document's error schema, or — while there is none — the live errors", async () => {
  const responses: Record<string, Schema> = operation().responses ?? {};
  const documented = Object.entries(responses)
    .filter(([status]) => /^[45]/.test(status))
    .map(([, response]) => response.content?.['application/json']?.schema)
    .filter(Boolean);
  for (const schema of documented) expectSameShape(shapeOf(schema), shapeOf(errorBodySchema));

  const noKey = await fetch(`${service.url}${VERIFY_KEY_OPERATION.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'kw_x' }),
  });
  const badBody = await fetch(`${service.url}${VERIFY_KEY_OPERATION.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': service.verifier.apiKey },
    body: JSON.stringify({ key: 42 }),
  });
  expect([noKey.status, badBody.status]).toEqual([401, 400]);
  for (const error of [await noKey.json(), await badBody.json()])
    expect(violations(error, errorBodySchema)).toEqual([]);
});
