import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shellWords } from './shell-words';

test('commands split as compose splits them', () => {
  assert.deepEqual(shellWords('bundle exec thin -p 3000'), ['bundle', 'exec', 'thin', '-p', '3000']);
  assert.deepEqual(shellWords(`sh -c 'echo "$HOME" && sleep 1'`), ['sh', '-c', 'echo "$HOME" && sleep 1']);
  assert.deepEqual(shellWords('echo "a \\"b\\" c" d\\ e'), ['echo', 'a "b" c', 'd e']);
  assert.deepEqual(shellWords(`a '' b`), ['a', '', 'b']);
  assert.deepEqual(shellWords('  '), []);
  assert.throws(() => shellWords(`echo 'open`), /unterminated quote/);
});
