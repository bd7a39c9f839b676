/** Compiles dist/ when it is missing or older than the sources; true when it built. */
export function ensureBuilt(options?: { quiet?: boolean; force?: boolean }): boolean;
