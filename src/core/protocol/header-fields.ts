/**
 * Typed readers for the untrusted JSON header of a frame. Each returns the value with its static
 * type or throws a ProtocolError naming the offending field path, so the per-kind validator in
 * message-validation.ts reads like a schema. Unknown extra fields are ignored by construction: the
 * validator copies only the fields it knows into a fresh object.
 */
import { ProtocolError } from './protocol-error';

export type JsonObject = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function expectObject(value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError(`${path} must be an object, got ${describe(value)}`);
  }
  return value as JsonObject;
}

/** Own properties only: inherited Object.prototype members (constructor, toString…) never read as fields. */
export function own(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function readString(obj: JsonObject, key: string, path: string): string {
  const v = own(obj, key);
  if (typeof v !== 'string') throw new ProtocolError(`${path}.${key} must be a string, got ${describe(v)}`);
  return v;
}

export function readOptionalString(obj: JsonObject, key: string, path: string): string | undefined {
  return own(obj, key) === undefined ? undefined : readString(obj, key, path);
}

export function readNullableString(obj: JsonObject, key: string, path: string): string | null {
  return own(obj, key) === null ? null : readString(obj, key, path);
}

export function readBoolean(obj: JsonObject, key: string, path: string): boolean {
  const v = own(obj, key);
  if (typeof v !== 'boolean') throw new ProtocolError(`${path}.${key} must be a boolean, got ${describe(v)}`);
  return v;
}

function checkFinite(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ProtocolError(`${where} must be a finite number, got ${describe(v)}`);
  }
  return v;
}

export function readFiniteNumber(obj: JsonObject, key: string, path: string): number {
  return checkFinite(own(obj, key), `${path}.${key}`);
}

export function readOptionalFiniteNumber(obj: JsonObject, key: string, path: string): number | undefined {
  return own(obj, key) === undefined ? undefined : readFiniteNumber(obj, key, path);
}

function checkNonNegativeInteger(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ProtocolError(`${where} must be a non-negative integer, got ${String(v)}`);
  }
  return v;
}

export function readNonNegativeInteger(obj: JsonObject, key: string, path: string): number {
  return checkNonNegativeInteger(own(obj, key), `${path}.${key}`);
}

export function readPositiveInteger(obj: JsonObject, key: string, path: string): number {
  const v = checkNonNegativeInteger(own(obj, key), `${path}.${key}`);
  if (v === 0) throw new ProtocolError(`${path}.${key} must be at least 1, got 0`);
  return v;
}

export function readArray(obj: JsonObject, key: string, path: string): unknown[] {
  const v = own(obj, key);
  if (!Array.isArray(v)) throw new ProtocolError(`${path}.${key} must be an array, got ${describe(v)}`);
  return v;
}

export function readStringArray(obj: JsonObject, key: string, path: string): string[] {
  return readArray(obj, key, path).map((v, i) => {
    if (typeof v !== 'string') throw new ProtocolError(`${path}.${key}[${i}] must be a string`);
    return v;
  });
}

export function readFiniteNumberArray(obj: JsonObject, key: string, path: string): number[] {
  return readArray(obj, key, path).map((v, i) => checkFinite(v, `${path}.${key}[${i}]`));
}

export function readNonNegativeIntegerArray(obj: JsonObject, key: string, path: string): number[] {
  return readArray(obj, key, path).map((v, i) => checkNonNegativeInteger(v, `${path}.${key}[${i}]`));
}

export function readOneOf<T extends string>(
  obj: JsonObject,
  key: string,
  allowed: readonly T[],
  path: string,
): T {
  const v = readString(obj, key, path);
  const match = allowed.find((a) => a === v);
  if (match === undefined) throw new ProtocolError(`${path}.${key} must be one of ${allowed.join('|')}`);
  return match;
}

/** Copies only the optional fields that are present, so decoded messages carry no `undefined` keys. */
export function withOptional<T extends Record<string, unknown>, O extends Record<string, unknown>>(
  base: T,
  optional: O,
): T & O {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) out[k] = v;
  return out as T & O;
}
