/**
 * Error classes with stable `code`s, following Node's convention (`err.code === 'ERR_...'`).
 *
 * h11's split applies: these are thrown for *local* misuse (bad options, calling a closed
 * object, a budget refusal). Garbage from the network never throws; decoders return statuses
 * and the connection counts them.
 */

/** Base class of every error sluice throws on purpose. */
export class SluiceError extends Error {
  /** Stable machine-readable code, e.g. `ERR_SLUICE_BUDGET_EXCEEDED`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option was out of its allowed range. Also an instance of RangeError semantics via `code`. */
export class SluiceRangeError extends RangeError {
  readonly code = 'ERR_SLUICE_OUT_OF_RANGE';
  constructor(message: string) {
    super(message);
    this.name = 'SluiceRangeError';
  }
}

/** An option or argument had the wrong type. */
export class SluiceTypeError extends TypeError {
  readonly code = 'ERR_SLUICE_INVALID_ARG_TYPE';
  constructor(message: string) {
    super(message);
    this.name = 'SluiceTypeError';
  }
}

/** The object was used after `close()` / in a state that does not allow the call. */
export class SluiceStateError extends SluiceError {
  constructor(message: string) {
    super('ERR_SLUICE_INVALID_STATE', message);
  }
}

/**
 * Validates that `value` is an integer in [min, max]; throws {@link SluiceRangeError} or
 * {@link SluiceTypeError} naming the option otherwise.
 * @throws SluiceTypeError when value is not a number; SluiceRangeError when out of range.
 */
export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new SluiceTypeError(`${name}: expected an integer in [${min}, ${max}], got ${typeof value}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SluiceRangeError(`${name}: expected an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Like {@link checkInt} for finite (non-integer allowed) numbers. */
export function checkNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new SluiceTypeError(`${name}: expected a number in [${min}, ${max}], got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new SluiceRangeError(`${name}: expected a number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/** Validates a power of two in [min, max]. */
export function checkPowerOfTwo(name: string, value: unknown, min: number, max: number): number {
  checkInt(name, value, min, max);
  const v = value as number;
  if ((v & (v - 1)) !== 0) {
    throw new SluiceRangeError(`${name}: expected a power of two in [${min}, ${max}], got ${v}`);
  }
  return v;
}
