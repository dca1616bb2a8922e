import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MediaType } from '../oci/image';
import { RegistryError } from './errors';
import { checkManifest, MAX_MANIFEST } from './manifest-check';
import { checkName, globMatch } from './names';

const d = (c: string) => 'sha256:' + c.repeat(64);
const image = (extra: object = {}) => ({
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, digest: d('a'), size: 10 },
  layers: [{ mediaType: MediaType.OciLayerGzip, digest: d('b'), size: 20 }],
  ...extra,
});
const buf = (x: unknown) => Buffer.from(JSON.stringify(x));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return `${(e as RegistryError).code} ${(e as RegistryError).status}`;
  }
  return 'accepted';
};

test('an image manifest lists its config and layers as blobs; its artifact type falls back to the config type', () => {
  const c = checkManifest(buf(image()), MediaType.OciManifest);
  assert.deepEqual(c.blobs, [d('a'), d('b')]);
  assert.equal(c.artifactType, MediaType.OciConfig);
  const withSubject = checkManifest(buf(image({ subject: { mediaType: MediaType.OciManifest, digest: d('c'), size: 5 }, artifactType: 'x/y' })), undefined);
  assert.equal(withSubject.subject?.digest, d('c'));
  assert.equal(withSubject.artifactType, 'x/y');
});

test('an index lists its children as manifests; the type is taken from the header when the body has none', () => {
  const idx = { schemaVersion: 2, manifests: [{ mediaType: MediaType.DockerManifest, digest: d('e'), size: 3, platform: { os: 'linux', architecture: 'amd64' } }] };
  const c = checkManifest(buf(idx), MediaType.DockerManifestList);
  assert.equal(c.mediaType, MediaType.DockerManifestList);
  assert.deepEqual(c.manifests, [d('e')]);
  assert.equal(checkManifest(buf(idx), undefined).mediaType, MediaType.OciIndex);
});

test('malformed, mismatched, schema 1 and huge manifests are refused with the spec codes', () => {
  assert.equal(code(() => checkManifest(Buffer.from('{nope'), undefined)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(buf({ schemaVersion: 1, name: 'x' }), undefined)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(buf(image()), MediaType.DockerManifest)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(buf(image({ layers: [{ mediaType: 'x', digest: 'sha256:zz', size: 1 }] })), undefined)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(buf(image({ config: { mediaType: 'x', digest: d('a'), size: -1 } })), undefined)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(buf(image({ mediaType: 'application/x-unknown' })), undefined)), 'MANIFEST_INVALID 400');
  assert.equal(code(() => checkManifest(Buffer.alloc(MAX_MANIFEST + 1, 32), undefined)), 'MANIFEST_INVALID 413');
});

test('repository names follow the grammar; nothing can climb out of its folder', () => {
  for (const ok of ['a', 'library/busybox', 'a-b/c__d/e.f', 'x--y']) assert.equal(checkName(ok), ok);
  for (const bad of ['', 'A', '../x', 'a/../b', 'a/./b', '_uploads', 'a/_blobs', 'a//b', '/a', 'a/', '-a', 'a.', 'a%2f..', 'x'.repeat(256)])
    assert.equal(code(() => checkName(bad)), 'NAME_INVALID 400', bad);
});

test('access patterns: * stays in one component, ** crosses them', () => {
  assert.equal(globMatch('team/*', 'team/app'), true);
  assert.equal(globMatch('team/*', 'team/app/sub'), false);
  assert.equal(globMatch('team/**', 'team/app/sub'), true);
  assert.equal(globMatch('a.b', 'axb'), false);
});
