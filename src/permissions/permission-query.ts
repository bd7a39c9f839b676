import { LRUCache } from 'lru-cache';
import { PERMISSION_NAME_PATTERN } from './permission-name';

/**
 * Permission queries a service sends with a verification: `orders:write AND (orders:read OR admin)`.
 *
 *   query  := or
 *   or     := and ( "OR" and )*
 *   and    := atom ( "AND" atom )*
 *   atom   := NAME | "(" or ")"
 *
 * AND binds tighter than OR; `AND` and `OR` are upper-case (permission names are
 * case-sensitive, so `and` is a name, and two names in a row are an error). Bounded: at most
 * MAX_QUERY_LENGTH characters, MAX_QUERY_NAMES names and MAX_QUERY_DEPTH nested parentheses.
 * Pure: parsed once into a tree, evaluated against a set of held permissions without allocating.
 */
export const MAX_QUERY_LENGTH = 1000;
export const MAX_QUERY_DEPTH = 8;
export const MAX_QUERY_NAMES = 50;

export type PermissionQuery =
  | { readonly kind: 'has'; readonly name: string }
  | { readonly kind: 'and' | 'or'; readonly of: readonly PermissionQuery[] };

/** A query that cannot be parsed; its message says why, for a 400 answer. */
export class PermissionQueryError extends Error {}

type Token = { type: '(' | ')' | 'AND' | 'OR' | 'name'; text: string; at: number };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const word = /[^\s()]+/y;
  for (let i = 0; i < source.length;) {
    const char = source[i];
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    if (char === '(' || char === ')') {
      tokens.push({ type: char, text: char, at: i++ });
      continue;
    }
    word.lastIndex = i;
    const text = word.exec(source)![0];
    const type = text === 'AND' || text === 'OR' ? text : 'name';
    if (type === 'name' && !PERMISSION_NAME_PATTERN.test(text))
      throw new PermissionQueryError(`"${text.slice(0, 100)}" (at ${i + 1}) is not a permission name`);
    tokens.push({ type, text, at: i });
    i += text.length;
  }
  return tokens;
}

export function parsePermissionQuery(source: string): PermissionQuery {
  if (typeof source !== 'string') throw new PermissionQueryError('The permission query must be a string');
  if (source.length > MAX_QUERY_LENGTH)
    throw new PermissionQueryError(`The permission query is too long (at most ${MAX_QUERY_LENGTH} characters)`);
  const tokens = tokenize(source);
  if (!tokens.length) throw new PermissionQueryError('The permission query is empty');
  const names = tokens.filter((token) => token.type === 'name').length;
  if (names > MAX_QUERY_NAMES)
    throw new PermissionQueryError(`The permission query names too many permissions (at most ${MAX_QUERY_NAMES})`);

  let next = 0;
  const peek = (): Token | undefined => tokens[next];
  const where = (token: Token | undefined) => (token ? `"${token.text}" at ${token.at + 1}` : 'the end');

  const parseOr = (depth: number): PermissionQuery => {
    const of = [parseAnd(depth)];
    while (peek()?.type === 'OR') {
      next++;
      of.push(parseAnd(depth));
    }
    return group('or', of);
  };
  const parseAnd = (depth: number): PermissionQuery => {
    const of = [parseAtom(depth)];
    while (peek()?.type === 'AND') {
      next++;
      of.push(parseAtom(depth));
    }
    return group('and', of);
  };
  const parseAtom = (depth: number): PermissionQuery => {
    const token = peek();
    if (token?.type === 'name') {
      next++;
      return { kind: 'has', name: token.text };
    }
    if (token?.type === '(') {
      if (depth >= MAX_QUERY_DEPTH)
        throw new PermissionQueryError(`The permission query nests too deep (at most ${MAX_QUERY_DEPTH} parentheses)`);
      next++;
      const inner = parseOr(depth + 1);
      if (peek()?.type !== ')')
        throw new PermissionQueryError(
          `Unbalanced parentheses: expected ")" for "(" at ${token.at + 1}, found ${where(peek())}`,
        );
      next++;
      return inner;
    }
    if (token?.type === ')' && depth === 0)
      throw new PermissionQueryError(`Unbalanced parentheses: ")" at ${token.at + 1} closes nothing`);
    throw new PermissionQueryError(`Expected a permission name or "(", found ${where(token)}`);
  };

  const query = parseOr(0);
  const rest = peek();
  if (rest) {
    if (rest.type === ')')
      throw new PermissionQueryError(`Unbalanced parentheses: ")" at ${rest.at + 1} closes nothing`);
    throw new PermissionQueryError(`Expected AND or OR, found ${where(rest)}`);
  }
  return query;
}

/** One operand stays itself; nested groups of the same operator flatten. */
function group(kind: 'and' | 'or', of: PermissionQuery[]): PermissionQuery {
  if (of.length === 1) return of[0];
  return { kind, of: of.flatMap((part) => (part.kind === kind ? part.of : [part])) };
}

/** Whether permissions `held` satisfy the query. */
export function satisfies(query: PermissionQuery, held: ReadonlySet<string>): boolean {
  switch (query.kind) {
    case 'has':
      return held.has(query.name);
    case 'and':
      for (const part of query.of) if (!satisfies(part, held)) return false;
      return true;
    case 'or':
      for (const part of query.of) if (satisfies(part, held)) return true;
      return false;
  }
}

/**
 * Permissions that, added to `held`, would satisfy the query (empty when it is satisfied).
 * Each AND needs what all its parts need; each OR takes the alternative that needs the fewest
 * additions (the first of those), given what the parts before it already need. Always enough,
 * usually the smallest set; computed only for a query that failed.
 */
export function missingPermissions(query: PermissionQuery, held: ReadonlySet<string>): string[] {
  const needed = new Set<string>();
  need(query, held, needed);
  return [...needed];
}

/** Anything that answers `has`: the held set, or the held set with what is already needed. */
type Held = { has(name: string): boolean };

function need(query: PermissionQuery, held: Held, needed: Set<string>): void {
  const has = (name: string) => held.has(name) || needed.has(name);
  if (query.kind === 'has') {
    if (!has(query.name)) needed.add(query.name);
    return;
  }
  if (query.kind === 'and') {
    for (const part of query.of) need(part, held, needed);
    return;
  }
  let best: Set<string> | undefined;
  for (const part of query.of) {
    const extra = new Set<string>();
    need(part, { has }, extra);
    if (!best || extra.size < best.size) best = extra;
    if (best.size === 0) return;
  }
  for (const name of best!) needed.add(name);
}

/** The names a query mentions, in order of first appearance. */
export function queryNames(query: PermissionQuery, into = new Set<string>()): Set<string> {
  if (query.kind === 'has') into.add(query.name);
  else for (const part of query.of) queryNames(part, into);
  return into;
}

/**
 * Parsed queries by their text: services send the same few queries again and again, so each is
 * parsed once. Bounded, so a caller sending a new query every time only costs a parse each.
 */
export class PermissionQueryCache {
  private readonly parsed: LRUCache<string, PermissionQuery>;

  constructor(max = 1000) {
    this.parsed = new LRUCache({ max });
  }

  parse(source: string): PermissionQuery {
    let query = this.parsed.get(source);
    if (!query) {
      query = parsePermissionQuery(source);
      this.parsed.set(source, query);
    }
    return query;
  }
}
