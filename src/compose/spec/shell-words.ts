import { invalidArgument } from '../../base/errors';

/**
 * A string command as compose splits it (shlex's POSIX rules, no expansion):
 * white space separates words, 'single quotes' are literal, "double quotes"
 * let `\` escape `"`, `\`, `$` and a backquote, and a `\` outside quotes
 * makes the next character literal.
 */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (/\s/.test(c)) {
      if (inWord) out.push(word);
      word = '';
      inWord = false;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw invalidArgument(`unterminated quote in ${JSON.stringify(s)}`);
      word += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && '"\\$`'.includes(s[j + 1] ?? '')) j++;
        word += s[j];
      }
      if (j >= s.length) throw invalidArgument(`unterminated quote in ${JSON.stringify(s)}`);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      word += s[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) out.push(word);
  return out;
}
