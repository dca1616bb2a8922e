import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { invalidArgument } from '../../base/errors';
import { createLogger } from '../../base/log';
import { ClusterEndpoint } from './endpoint';
import { type JoinRequest, requestJoin } from './join';
import { caDigest, crossSign, issueOwn, makeCa, makeKeyAndRequest, readCredentials, signRequest, tlsFiles } from './pki';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-join-'));
  dirs.push(d);
  return d;
};
const asked: JoinRequest[] = [];
let manager: ClusterEndpoint;
let worker: ClusterEndpoint;
let rotating: ClusterEndpoint;
let digest: string;

before(async () => {
  const m = tmp();
  await makeCa(m, 'c1');
  await issueOwn(m, { nodeId: 'm1', clusterId: 'c1', role: 'manager', ip: '127.0.0.1' });
  digest = caDigest(readCredentials(m).ca);
  const handle = async (r: JoinRequest) => {
    asked.push(r);
    if (r.token !== 'good') throw invalidArgument('A valid join token is necessary to join this cluster');
    return { clusterId: 'c1', nodeId: 'n9', role: 'worker' as const, cert: 'C', ca: 'A', endpoints: ['127.0.0.1:1'] };
  };
  manager = await ClusterEndpoint.listen('127.0.0.1', 0, readCredentials(m), { join: handle, taskLogs: async () => undefined }, createLogger('error'));
  // A server of the same CA with a worker's certificate: not a manager, so not to be trusted with a token.
  const w = tmp();
  fs.copyFileSync(path.join(m, 'ca.crt'), path.join(w, 'ca.crt'));
  fs.copyFileSync(path.join(m, 'ca.key'), path.join(w, 'ca.key'));
  await issueOwn(w, { nodeId: 'w1', clusterId: 'c1', role: 'worker', ip: '127.0.0.1' });
  worker = await ClusterEndpoint.listen('127.0.0.1', 0, readCredentials(w), { join: handle, taskLogs: async () => undefined }, createLogger('error'));
  // A manager in the middle of a CA rotation: its certificate from the new root, shown with the new root's twin
  // (cross-signed by the old), and both roots trusted. The tokens still pin the old root.
  const r = tmp();
  for (const f of ['ca.crt', 'ca.key']) fs.copyFileSync(path.join(m, f), path.join(r, f));
  await makeCa(r, 'c1', { next: true });
  await crossSign(r);
  const f = tlsFiles(r);
  fs.writeFileSync(f.trust, `${fs.readFileSync(f.ca, 'utf8').trim()}\n${fs.readFileSync(f.nextCa, 'utf8').trim()}\n`);
  fs.writeFileSync(f.cert, await signRequest(r, await makeKeyAndRequest(r), { nodeId: 'm2', clusterId: 'c1', role: 'manager', ip: '127.0.0.1' }, { next: true, twin: true }));
  rotating = await ClusterEndpoint.listen('127.0.0.1', 0, readCredentials(r), { join: handle, taskLogs: async () => undefined }, createLogger('error'));
});

after(async () => {
  await manager.close();
  await worker.close();
  await rotating.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('a join pins the manager\'s CA by the token\'s digest before it sends the token', async () => {
  const r = { token: 'good', csr: 'x', ip: '127.0.0.2' };
  assert.equal((await requestJoin(`127.0.0.1:${manager.port}`, digest, r)).nodeId, 'n9');
  assert.equal(asked.length, 1);
  await assert.rejects(requestJoin(`127.0.0.1:${manager.port}`, digest, { ...r, token: 'bad' }), /A valid join token is necessary/);
  assert.equal(asked.length, 2);
  // Another CA's digest, or a node of the CA that is not a manager: refused, and the token never sent.
  await assert.rejects(requestJoin(`127.0.0.1:${manager.port}`, 'x'.repeat(50), r), /remote CA does not match fingerprint of the join token \(another CA\)/);
  await assert.rejects(requestJoin(`127.0.0.1:${worker.port}`, digest, r), /not a manager's certificate of that CA/);
  assert.equal(asked.length, 2);
  await assert.rejects(requestJoin('127.0.0.1:1', digest, r), /cannot reach a manager at 127\.0\.0\.1:1/);
  await assert.rejects(requestJoin('nowhere', digest, r), /invalid manager address "nowhere"/);
});

test('during a CA rotation the pin goes through the new root\'s twin to the old root the tokens name; another CA is still refused', async () => {
  const r = { token: 'good', csr: 'x', ip: '127.0.0.2' };
  assert.equal((await requestJoin(`127.0.0.1:${rotating.port}`, digest, r)).nodeId, 'n9');
  await assert.rejects(requestJoin(`127.0.0.1:${rotating.port}`, 'x'.repeat(50), r), /another CA/);
});
