/** A value now, or later. The API-key hot path answers now whenever it can: a promise costs. */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)` at once when the value is here, after it otherwise: the one place that tells them apart. */
export function then<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
