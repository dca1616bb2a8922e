import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readRegistryTls } from './certs';

function certsDir(files: Record<string, Record<string, string>>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-certs-'));
  for (const [host, entries] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, host));
    for (const [name, text] of Object.entries(entries)) fs.writeFileSync(path.join(dir, host, name), text);
  }
  return dir;
}

test('certs.d: every *.crt is a root, x.cert goes with x.key, other files are ignored, per host:port', (t) => {
  const dir = certsDir({ 'reg.example:5000': { 'ca.crt': 'CA1', 'extra.crt': 'CA2', 'client.cert': 'C', 'client.key': 'K', 'README': 'x' }, 'reg.example': { 'ca.crt': 'OTHER' } });
  t.after(() => fs.rmSync(dir, { recursive: true }));
  assert.deepEqual(readRegistryTls(dir, 'reg.example:5000'), { ca: ['CA1', 'CA2'], cert: 'C', key: 'K', folder: path.join(dir, 'reg.example:5000') });
  assert.deepEqual(readRegistryTls(dir, 'reg.example'), { ca: ['OTHER'], folder: path.join(dir, 'reg.example') });
});

test('certs.d: no folder for the host (or no certs.d at all) is no TLS settings; names that climb out are not looked up', (t) => {
  const dir = certsDir({ 'a:1': { 'ca.crt': 'X' } });
  t.after(() => fs.rmSync(dir, { recursive: true }));
  assert.equal(readRegistryTls(dir, 'b:1'), undefined);
  assert.equal(readRegistryTls(path.join(dir, 'missing'), 'a:1'), undefined);
  assert.equal(readRegistryTls(dir, '../a:1'), undefined);
  assert.equal(readRegistryTls(dir, '..'), undefined);
});

test('certs.d: a client certificate without its key, or a key without its certificate, is an error naming the file', (t) => {
  const dir = certsDir({ 'a:1': { 'client.cert': 'C' }, 'b:1': { 'client.key': 'K' }, 'c:1': { 'one.cert': 'C', 'one.key': 'K', 'two.cert': 'C', 'two.key': 'K' } });
  t.after(() => fs.rmSync(dir, { recursive: true }));
  assert.throws(() => readRegistryTls(dir, 'a:1'), /missing key client\.key for client certificate .*a:1\/client\.cert/);
  assert.throws(() => readRegistryTls(dir, 'b:1'), /missing client certificate client\.cert for key .*b:1\/client\.key/);
  assert.throws(() => readRegistryTls(dir, 'c:1'), /holds 2 client certificates/);
});
