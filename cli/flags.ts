/** Reading numeric command-line flags, with one wording for every command's usage errors. */
type UsageErrorFactory = (message: string) => Error;

export class FlagReader {
  constructor(private readonly usageError: UsageErrorFactory) {}

  /** An integer ≥ min (the flag's value, or the fallback when it is absent). */
  integer(flag: string, value: string | undefined, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    const number = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!(Number.isSafeInteger(number) && number >= min)) {
      const kind =
        min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer ≥ ${min}`;
      throw this.usageError(`--${flag} must be ${kind}, got "${value}"`);
    }
    return number;
  }

  positiveNumber(flag: string, value: string | undefined, fallback: number): number {
    if (value === undefined) return fallback;
    const number = value.trim() === '' ? Number.NaN : Number(value);
    if (!(Number.isFinite(number) && number > 0)) {
      throw this.usageError(`--${flag} must be a positive number, got "${value}"`);
    }
    return number;
  }
}
