import { EntitySyncError } from './entity-sync-error.js';

// How a value passed as an option reads in a message: strings quoted, objects by class.
function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return 'an array';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'a plain object';
}

/** An option passed to a public function that it cannot use. */
export class OptionError extends EntitySyncError {
  static invalid(fn: string, option: string, value: unknown, valid: string, hint?: string): OptionError {
    return new OptionError(
      'INVALID_OPTION',
      `${fn}: option '${option}' is ${describeValue(value)}; it must be ${valid}.${hint ? ` ${hint}` : ''}`,
      { info: { function: fn, option, value, valid } },
    );
  }

  /** A positional argument (the entity manager, say) that is missing or of the wrong kind. */
  static invalidArgument(fn: string, argument: string, value: unknown, valid: string, hint?: string): OptionError {
    return new OptionError(
      'INVALID_OPTION',
      `${fn}: argument '${argument}' is ${describeValue(value)}; it must be ${valid}.${hint ? ` ${hint}` : ''}`,
      { info: { function: fn, argument, value, valid } },
    );
  }

  static unknown(fn: string, option: string, known: string[]): OptionError {
    const close = known.find((name) => name.toLowerCase() === option.toLowerCase());
    return new OptionError(
      'INVALID_OPTION',
      `${fn}: there is no option '${option}'.${close ? ` Did you mean '${close}'?` : ''} Its options are ${known.join(', ')}.`,
      { info: { function: fn, option, known } },
    );
  }

  static renamed(fn: string, option: string, replacement: string, why: string): OptionError {
    return new OptionError(
      'INVALID_OPTION',
      `${fn}: option '${option}' was renamed to '${replacement}'; pass ${replacement} instead (${why}).`,
      { info: { function: fn, option, replacement } },
    );
  }
}
