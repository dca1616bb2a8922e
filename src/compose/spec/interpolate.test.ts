import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEnvFile } from './env-file';
import { interpolateString, interpolateTree } from './interpolate';

const env = { SET: 'v', EMPTY: '', TAG: 'v1.5' };

test('the forms of the Compose Specification', () => {
  const cases: [string, string][] = [
    ['$SET', 'v'],
    ['${SET}', 'v'],
    ['${UNSET}', ''],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['$$SET', '$SET'],
    ['webapp:${TAG}', 'webapp:v1.5'],
    ['${UNSET:-${SET}}', 'v'],
    ['${UNSET:-${ALSO_UNSET:-deep}}-x', 'deep-x'],
    ['a $ b', 'a $ b'],
    ['$SET_more', ''],
    ['${SET}_more', 'v_more'],
  ];
  for (const [s, want] of cases) assert.equal(interpolateString(s, env), want, s);
});

test('a required variable unset is an error that names it, its message and where', () => {
  assert.throws(() => interpolateString('${DB:?set DB first}', {}, 'services.web.image in compose.yaml'), /required variable DB is missing a value: set DB first \(in services.web.image in compose.yaml\)/);
  assert.throws(() => interpolateString('${EMPTY:?}', env), /required variable EMPTY/);
  assert.equal(interpolateString('${EMPTY?}', env), '');
  assert.throws(() => interpolateString('${UNSET?}', env), /required variable UNSET/);
});

test('a malformed reference is an error, as compose reports it', () => {
  assert.throws(() => interpolateString('${SET', env), /invalid interpolation format/);
  assert.throws(() => interpolateString('${S ET}', env), /invalid interpolation format/);
});

test('trees: values are interpolated, keys are not, errors name the path', () => {
  const t = interpolateTree({ services: { web: { image: 'x:${TAG}', '${SET}': 1, ports: ['${P:-80}:80'] } } }, env, 'f.yaml');
  assert.deepEqual(t, { services: { web: { image: 'x:v1.5', '${SET}': 1, ports: ['80:80'] } } });
  assert.throws(() => interpolateTree({ services: { web: { ports: ['${P:?}'] } } }, {}, 'f.yaml'), /services\.web\.ports\[0\] in f\.yaml/);
});

test('.env files: quotes, escapes, comments, export, interpolation from lines above and the shell', () => {
  const text = [
    '# a comment',
    'export A=1',
    'B = two words # comment',
    "C='literal ${A} # not a comment'",
    'D="line\\nbreak ${A}"',
    'E=${A}-${SHELL_ONLY}',
    'F',
    'G=',
    'H="multi',
    'line"',
  ].join('\n');
  assert.deepEqual(parseEnvFile(text, '.env', { SHELL_ONLY: 's', F: 'from-shell' }), {
    A: '1', B: 'two words', C: 'literal ${A} # not a comment', D: 'line\nbreak 1', E: '1-s', F: 'from-shell', G: '', H: 'multi\nline',
  });
  assert.throws(() => parseEnvFile('1BAD=x', '.env'), /\.env:1: unexpected character/);
  assert.throws(() => parseEnvFile('A="open', '.env'), /unterminated/);
});
