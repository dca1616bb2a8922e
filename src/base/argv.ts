import { invalidArgument } from './errors';

/**
 * Walks command-line flags as docker's daemon takes them: `--name value`,
 * `--name=value`, and short ones with their value next. `takesValue` tells
 * which flags read the next word when no `=` gave one.
 */
export function* flagsOf(argv: string[], takesValue: (flag: string) => boolean): Generator<{ flag: string; value: string | undefined }> {
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    if (value === undefined && takesValue(flag)) {
      value = argv[++i];
      if (value === undefined) throw invalidArgument(`flag needs an argument: ${flag}`);
    }
    yield { flag, value };
  }
}
