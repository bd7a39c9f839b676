/** A value now, or later. The API-key hot path answers now whenever it can: a promise costs. */
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)` at once when the value is here, after it otherwise: the one place that tells them apart. */
export function then<T, R>(value: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * Runs `step(0)`, `step(1)`, … in order until one answers true (then true) or all have run
 * (false). Synchronous for as long as every step is: the first step that answers later makes
 * the rest follow it.
 */
export function someInOrder(
  count: number,
  step: (index: number) => MaybePromise<boolean>,
  from = 0,
): MaybePromise<boolean> {
  for (let index = from; index < count; index++) {
    const stop = step(index);
    if (stop instanceof Promise) return stop.then((stopped) => stopped || someInOrder(count, step, index + 1));
    if (stop) return true;
  }
  return false;
}
