import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDockerfile } from './dockerfile';
import { runCommand } from './run-step';

const runOf = (text: string) => parseDockerfile(`FROM a\n${text}`).stages[0].instructions[0];

test('RUN with here-documents runs as BuildKit runs it', () => {
  assert.deepEqual(runCommand(runOf('RUN echo hi'), undefined), { cmd: ['/bin/sh', '-c', 'echo hi'] });
  assert.deepEqual(runCommand(runOf('RUN ["echo", "hi"]'), ['/bin/bash', '-c']), { cmd: ['echo', 'hi'] });
  // A document alone is the script, run by the shell (or SHELL's).
  assert.deepEqual(runCommand(runOf('RUN <<EOF\necho a\necho b\nEOF'), ['/bin/bash', '-c']), { cmd: ['/bin/bash', '-c', 'echo a\necho b\n'] });
  assert.deepEqual(runCommand(runOf('RUN <<-EOF\n\techo a\n\tEOF'), undefined), { cmd: ['/bin/sh', '-c', 'echo a\n'] });
  // ... or by its #! line, from a file of its own.
  const script = runCommand(runOf("RUN <<'PY'\n#!/usr/bin/python3\nprint(1)\nPY"), undefined);
  assert.deepEqual(script.cmd, ['/dev/pipes/PY']);
  assert.equal(script.script?.body, '#!/usr/bin/python3\nprint(1)\n');
  // Any other use: the shell gets the text with its documents and feeds them itself.
  assert.deepEqual(runCommand(runOf('RUN cat <<A >/a && cat <<-B >/b\none\nA\n\ttwo\n\tB'), undefined), { cmd: ['/bin/sh', '-c', 'cat <<A >/a && cat <<-B >/b\none\nA\n\ttwo\nB\n'] });
});
