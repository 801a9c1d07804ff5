import { HttpError, type RequestIssue } from '@entity-sync/core';

/**
 * A schema a route validates its query, path parameters or body with: any library that
 * implements Standard Schema v1 (zod 4, valibot 1, arktype), e.g. `z.object({ models: z.string() })`.
 */
export interface RequestSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => SchemaResult<Output> | Promise<SchemaResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

type SchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }> };

/** What a schema turns a value into (`unknown` without a schema). */
export type SchemaOutput<S> = S extends RequestSchema<infer Output> ? Output : undefined;

/** Validates `value` with `schema`; a mismatch is REQUEST_INVALID naming the field and what it must be. */
export async function validateWith<Output>(schema: RequestSchema<Output>, value: unknown, route: string, part: 'query' | 'body' | 'params'): Promise<Output> {
  const result = await schema['~standard'].validate(value);
  if (!result.issues) return result.value;
  const issues: RequestIssue[] = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.'),
    message: issue.message,
  }));
  throw HttpError.requestInvalid(route, part, issues);
}

/** A URL's query as an object: a parameter given once is a string, given more than once an array of strings. */
export function queryObject(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  return query;
}
