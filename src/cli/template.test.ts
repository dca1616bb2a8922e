import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileTemplate, renderFormat, tabulate } from './template';

const run = (t: string, d: unknown) => compileTemplate(t).execute(d);

test('fields, nested fields and json', () => {
  const d = { State: { Running: true, Pid: 42 }, Name: '/web', Config: { Env: ['A=1', 'B=2'], Labels: { k: 'v' } } };
  assert.equal(run('{{.State.Running}} {{.State.Pid}} {{.Name}}', d), 'true 42 /web');
  assert.equal(run('{{json .Config.Labels}}', d), '{"k":"v"}');
  assert.equal(run('{{.Config.Labels.k}}', d), 'v');
  assert.equal(run('{{.Missing}}', d), '<no value>');
  assert.equal(run('{{json .}}', { a: 1 }), '{"a":1}');
});

test('range, if/else, with, variables, pipelines and functions', () => {
  const d = { Mounts: [{ Source: '/a', RW: true }, { Source: '/b', RW: false }], Labels: { x: '1', y: '2' } };
  assert.equal(run('{{range .Mounts}}{{.Source}}{{if .RW}}(rw){{else}}(ro){{end}} {{end}}', d), '/a(rw) /b(ro) ');
  assert.equal(run('{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}', d), 'x=1;y=2;');
  assert.equal(run('{{with .Labels}}{{.x}}{{end}}', d), '1');
  assert.equal(run('{{.Labels.x | printf "%s!"}}', d), '1!');
  assert.equal(run('{{join (split "a,b" ",") "-"}} {{len .Mounts}} {{upper "x"}} {{index .Labels "y"}}', d), 'a-b 2 X 2');
  assert.equal(run('{{- " a " -}}  {{ "b" }}', d), ' a b');
});

test('errors are clear', () => {
  assert.throws(() => compileTemplate('{{.A'), /unclosed action/);
  assert.throws(() => run('{{nosuch .A}}', {}), /function "nosuch" not defined/);
  assert.throws(() => compileTemplate('{{if .A}}x'), /unexpected EOF/);
});

test('table format makes a header and aligns like docker', () => {
  const out = renderFormat('table {{.ID}}\\t{{.Names}}', [{ ID: 'abc', Names: 'web' }], { ID: 'CONTAINER ID', Names: 'NAMES' });
  assert.equal(out, 'CONTAINER ID   NAMES\nabc            web\n');
  assert.equal(tabulate(['a\tb', 'ccc\td']), 'a         b\nccc       d');
});

test('fields of a parenthesized pipeline, as docker users write them', () => {
  const o = { NetworkSettings: { Networks: { app: { IPAddress: '10.0.0.2' } } } };
  assert.equal(compileTemplate('{{(index .NetworkSettings.Networks "app").IPAddress}}').execute(o), '10.0.0.2');
  assert.equal(compileTemplate('{{ (index .NetworkSettings.Networks "app") }}').execute(o), 'map[IPAddress:10.0.0.2]');
});
