import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandHeredoc, expandWord, expandWords, keyValues, splitRaw } from './words';

const vars = new Map([
  ['A', 'one'],
  ['SP', 'a b'],
  ['EMPTY', ''],
]);

test('variables expand as docker: $X, ${X}, defaults and alternates; unset is empty', () => {
  assert.equal(expandWord('$A/${A}x', vars), 'one/onex');
  assert.equal(expandWord('${NOPE:-dflt} ${EMPTY:-e} ${EMPTY-e}', vars), 'dflt e ');
  assert.equal(expandWord('${A:+alt} ${NOPE:+alt}|', vars), 'alt |');
  assert.equal(expandWord('${NOPE:-${A}}', vars), 'one', 'a default may hold a variable');
  assert.equal(expandWord('$NOPE.$', vars), '.$', 'a lone $ stays');
  assert.throws(() => expandWord('${NOPE:?must be set}', vars), /NOPE: must be set/);
  assert.throws(() => expandWord('${A', vars), /missing '}'/);
});

test('quotes and escapes: single quotes are literal, double quotes expand, the escape character is honoured', () => {
  assert.equal(expandWord(`'$A' "$A" \\$A`, vars), '$A one $A');
  assert.equal(expandWord('"a \\"q\\" \\n"', vars), 'a "q" \\n', 'in double quotes only " $ and the escape are escaped');
  assert.equal(expandWord('`$A` x`y', vars, '`'), '$A xy', 'the escape directive changes the escape character');
  assert.throws(() => expandWord('"open', vars), /matching double-quote/);
});

test('words split on unquoted white space only', () => {
  assert.deepEqual(expandWords(`a "b c"  'd e' f\\ g $A`, vars), ['a', 'b c', 'd e', 'f g', 'one']);
  assert.deepEqual(splitRaw(`K="a b" L='c d' M=e\\ f`), ['K="a b"', `L='c d'`, 'M=e\\ f']);
});

test('key=value lists, the legacy form, and ARG names without values', () => {
  assert.deepEqual(keyValues('K="a b" L=$A', vars, 'ENV'), [['K', 'a b'], ['L', 'one']]);
  assert.deepEqual(keyValues('K  the rest  of it', vars, 'ENV'), [['K', 'the rest  of it']]);
  assert.deepEqual(keyValues('N M=1', vars, 'ARG'), [['N', undefined], ['M', '1']]);
  assert.throws(() => keyValues('K=1 L', vars, 'LABEL'), /can't find = in "L"/);
  assert.throws(() => keyValues('K', vars, 'ENV'), /at least two arguments/);
});

test('a here-document expands its variables and keeps its quotes and other escapes', () => {
  assert.equal(expandHeredoc('say "$A" \'${A}\' \\$A \\\\ \\n\n', vars), 'say "one" \'one\' $A \\ \\n\n');
  assert.equal(expandHeredoc('${NOPE:-"d f"}', vars), '"d f"');
});
