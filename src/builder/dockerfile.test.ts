import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDockerfile, parseInstruction } from './dockerfile';

test('a Dockerfile parses into meta ARGs and named stages, with lines, flags and the exec form', () => {
  const df = parseDockerfile(
    [
      '# comment',
      'ARG BASE=busybox',
      'FROM $BASE AS Build',
      'RUN echo a \\',
      '    b',
      'COPY --from=build --chown=1:2 a* /dst/',
      'CMD ["sh", "-c", "echo \\"q x\\""]',
      'from scratch',
      'copy --from=0 /x /y',
    ].join('\n'),
  );
  assert.equal(df.metaArgs.length, 1);
  assert.equal(df.stages.length, 2);
  const [b, s] = df.stages;
  assert.equal(b.name, 'build', 'stage names are lower case');
  assert.equal(b.from.line, 3);
  assert.deepEqual(b.instructions.map((i) => [i.keyword, i.line]), [['RUN', 4], ['COPY', 6], ['CMD', 7]]);
  assert.match(b.instructions[0].args, /^echo a\s+b$/);
  assert.deepEqual([...b.instructions[1].flags], [['from', 'build'], ['chown', '1:2']]);
  assert.equal(b.instructions[1].args, 'a* /dst/');
  assert.deepEqual(b.instructions[2].json, ['sh', '-c', 'echo "q x"']);
  assert.equal(s.instructions[0].keyword, 'COPY', 'keywords are case-insensitive');
});

test('the escape directive changes the continuation character', () => {
  const df = parseDockerfile('# escape=`\nFROM scratch\nLABEL a=1 `\n  b=2\n');
  assert.equal(df.escape, '`');
  assert.match(df.stages[0].instructions[0].args, /^a=1\s+b=2$/);
});

test('bad Dockerfiles are refused naming the file, line and instruction', () => {
  assert.throws(() => parseDockerfile('FROM scratch\nBOGUS x\n', 'app/Dockerfile'), /^BerthError: app\/Dockerfile:2: BOGUS x: unknown instruction: BOGUS$/m);
  assert.throws(() => parseDockerfile('RUN x\n'), /Dockerfile:1: RUN x: no build stage/);
  assert.throws(() => parseDockerfile('# only a comment\n'), /no FROM instruction/);
  assert.throws(() => parseDockerfile('FROM a AS x\nFROM b AS x\n'), /duplicate name for build stage: x/);
  assert.throws(() => parseDockerfile('FROM a b\n'), /FROM requires either one or three arguments/);
  assert.throws(() => parseDockerfile('FROM a\nCOPY --bogus=1 a b\n'), /unknown flag: --bogus/);
  assert.throws(() => parseDockerfile('FROM a\nCOPY --parents a b\n'), /--parents is not supported: it belongs to a newer Dockerfile syntax/);
  assert.throws(() => parseDockerfile('FROM a\nRUN --chmod=644 true\n'), /unknown flag: --chmod/);
  assert.throws(() => parseDockerfile('FROM a\nENV\n'), /ENV requires at least one argument/);
});

test('one instruction parses alone (ONBUILD triggers, --change)', () => {
  const i = parseInstruction('HEALTHCHECK --interval=5s CMD true');
  assert.equal(i.keyword, 'HEALTHCHECK');
  assert.equal(i.flags.get('interval'), '5s');
  assert.equal(i.args, 'CMD true');
});

test('here-documents: RUN, COPY and ADD take them (quoted, <<- and several); elsewhere << is text', () => {
  const df = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'FROM a',
      'RUN <<EOF',
      'echo one',
      '',
      'EOF',
      'RUN python3 <<-"EOT" > /out',
      '\tprint(1)',
      '\tEOT',
      'COPY <<a.txt <<\'b.txt\' /dst/',
      'A $X',
      'a.txt',
      'b.txt',
      'CMD cat <<EOF',
      'RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make',
    ].join('\n'),
  );
  const [run, py, copy, cmd, mounts] = df.stages[0].instructions;
  assert.deepEqual([run.line, run.text, run.args], [3, 'RUN <<EOF', '<<EOF']);
  assert.deepEqual(run.heredocs, [{ name: 'EOF', body: 'echo one\n\n', expand: true, chomp: false }]);
  assert.deepEqual([py.line, py.args], [7, 'python3 <<-"EOT" > /out']);
  assert.deepEqual(py.heredocs, [{ name: 'EOT', body: '\tprint(1)\n', expand: false, chomp: true }]);
  assert.deepEqual(copy.heredocs.map((h) => [h.name, h.body, h.expand]), [['a.txt', 'A $X\n', true], ['b.txt', '', false]]);
  assert.equal(copy.line, 10);
  assert.deepEqual([cmd.keyword, cmd.line, cmd.heredocs, cmd.args], ['CMD', 14, [], 'cat <<EOF']);
  assert.deepEqual(mounts.mounts, ['type=cache,target=/c', 'type=tmpfs,target=/t'], 'every --mount is kept, in order');
});
