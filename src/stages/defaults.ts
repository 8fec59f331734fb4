/**
 * A stage's options over its defaults. A key given as undefined is not given: it must not hide
 * the default (library callers and the recipe runner pass optional values on as they come).
 */
export function withDefaults<D extends object, O extends object>(defaults: D, given: O): Omit<D, keyof O> & O & D {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return { ...defaults, ...defined } as Omit<D, keyof O> & O & D;
}
