/**
 * Argument schemas for hub methods: a plain validation function, or any Standard Schema
 * (https://standardschema.dev: zod, valibot, arktype …), whose output replaces the argument.
 * @module
 */

/** The part of the Standard Schema v1 interface we use. */
export interface StandardSchemaV1 {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaResult | Promise<StandardSchemaResult>;
  };
}

/** A Standard Schema validation result. */
export type StandardSchemaResult =
  | { readonly value: unknown; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<unknown> }> };

/**
 * Checks one argument. A function returns an error text when the value is bad, and nothing (or
 * true) when it is good.
 *
 * @example
 * ```ts
 * const nonEmptyString: ArgumentSchema = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'expected a non-empty string');
 * ```
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a validator with no return statement returns void, and that means "valid".
export type ArgumentSchema = StandardSchemaV1 | ((value: unknown) => string | true | undefined | void);

/** The outcome of {@link validateArgument}: the (possibly transformed) value, or an error text. */
export type ArgumentCheck = { ok: true; value: unknown } | { ok: false; error: string };

/** Runs one schema on one value. */
export async function validateArgument(schema: ArgumentSchema, value: unknown): Promise<ArgumentCheck> {
  if (typeof schema === 'function') {
    const outcome = schema(value);
    return typeof outcome === 'string' ? { ok: false, error: outcome } : { ok: true, value };
  }
  const result = await schema['~standard'].validate(value);
  if (result.issues) {
    const text = result.issues
      .map((issue) => {
        const path = issue.path?.map((p) =>
          typeof p === 'object' && p && 'key' in p ? String(p.key) : String(p),
        );
        return path && path.length > 0 ? `${path.join('.')}: ${issue.message}` : issue.message;
      })
      .join('; ');
    return { ok: false, error: text || 'invalid value' };
  }
  return { ok: true, value: result.value };
}
