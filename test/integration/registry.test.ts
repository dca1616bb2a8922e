import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { eventually } from './harness';
import { digestOf, errorCode, pushBlob, pushImage, TestRegistry } from './registry-harness';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Sends part of a body, then breaks the connection, as a network failure mid-chunk would. */
function brokenPatch(reg: TestRegistry, location: string, part: Buffer, declared: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: reg.port, method: 'PATCH', path: location, headers: { 'Content-Length': declared, 'Content-Type': 'application/octet-stream' } });
    req.on('error', () => resolve());
    req.write(part, () => setTimeout(() => req.destroy(), 200));
    req.on('close', () => resolve());
  });
}

describe('registry: the OCI distribution API', () => {
  const reg = new TestRegistry();
  before(() => reg.start());
  after(() => reg.cleanup());

  test('the base endpoint answers with the API version header; unknown endpoints and methods are refused', async () => {
    const r = await reg.request('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(errorCode(await reg.request('GET', '/v2/x/nothing/here')), '404 UNSUPPORTED');
    assert.equal(errorCode(await reg.request('POST', '/v2/x/tags/list')), '405 UNSUPPORTED');
  });

  test('monolithic push (POST with digest, and POST then PUT), HEAD, GET and ranges of a blob', async () => {
    const data = Buffer.from('0123456789abcdef');
    const d = await pushBlob(reg, 'mono/a', data);
    const head = await reg.request('HEAD', `/v2/mono/a/blobs/${d}`);
    assert.deepEqual([head.status, head.headers['content-length'], head.headers['docker-content-digest']], [200, '16', d]);
    assert.equal((await reg.request('GET', `/v2/mono/a/blobs/${d}`)).body.toString(), '0123456789abcdef');
    const part = await reg.request('GET', `/v2/mono/a/blobs/${d}`, { headers: { Range: 'bytes=4-7' } });
    assert.deepEqual([part.status, part.body.toString(), part.headers['content-range']], [206, '4567', 'bytes 4-7/16']);
    assert.equal((await reg.request('GET', `/v2/mono/a/blobs/${d}`, { headers: { Range: 'bytes=-3' } })).body.toString(), 'def');
    assert.equal((await reg.request('GET', `/v2/mono/a/blobs/${d}`, { headers: { Range: 'bytes=99-' } })).status, 416);

    const other = Buffer.from('sent by PUT');
    const start = await reg.request('POST', '/v2/mono/a/blobs/uploads/');
    assert.equal(start.status, 202);
    assert.equal(start.headers.range, '0-0');
    const put = await reg.request('PUT', `${start.headers.location}?digest=${digestOf(other)}`, { body: other });
    assert.deepEqual([put.status, put.headers.location], [201, `/v2/mono/a/blobs/${digestOf(other)}`]);
    assert.equal((await reg.request('GET', put.headers.location!)).body.toString(), 'sent by PUT');
    // A blob is the repository's: another repository does not serve it.
    assert.equal(errorCode(await reg.request('GET', `/v2/mono/b/blobs/${d}`)), '404 BLOB_UNKNOWN');
    assert.equal((await reg.request('HEAD', `/v2/mono/b/blobs/${d}`)).status, 404);
  });

  test('a wrong or malformed digest stores nothing', async () => {
    const before_ = reg.blobs();
    const wrong = await reg.request('POST', `/v2/bad/d/blobs/uploads/?digest=${digestOf('something else')}`, { body: 'payload' });
    assert.equal(errorCode(wrong), '400 DIGEST_INVALID');
    assert.equal(errorCode(await reg.request('POST', `/v2/bad/d/blobs/uploads/?digest=sha256:nothex`, { body: 'x' })), '400 DIGEST_INVALID');
    const s = await reg.request('POST', '/v2/bad/d/blobs/uploads/');
    assert.equal(errorCode(await reg.request('PUT', `${s.headers.location}`, { body: 'no digest' })), '400 DIGEST_INVALID');
    assert.equal(errorCode(await reg.request('GET', `/v2/bad/d/blobs/sha256:1234`)), '400 DIGEST_INVALID');
    assert.deepEqual(reg.blobs(), before_);
    assert.deepEqual(reg.ingests(), []);
  });

  test('chunked upload: PATCH in order, 416 with the current range out of order, status, then PUT', async () => {
    const data = Buffer.from('the quick brown fox jumps over the lazy dog');
    const s = await reg.request('POST', '/v2/chunks/x/blobs/uploads/');
    const loc = s.headers.location!;
    const p1 = await reg.request('PATCH', loc, { headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' }, body: data.subarray(0, 10) });
    assert.deepEqual([p1.status, p1.headers.range], [202, '0-9']);
    const skip = await reg.request('PATCH', loc, { headers: { 'Content-Range': '20-29' }, body: data.subarray(20, 30) });
    assert.deepEqual([skip.status, skip.headers.range], [416, '0-9']);
    const overlap = await reg.request('PATCH', loc, { headers: { 'Content-Range': '5-14' }, body: data.subarray(5, 15) });
    assert.equal(overlap.status, 416);
    const lying = await reg.request('PATCH', loc, { headers: { 'Content-Range': '10-19' }, body: data.subarray(10, 15) });
    assert.equal(lying.status, 416);
    assert.equal((await reg.request('PATCH', loc, { headers: { 'Content-Range': 'garbage' }, body: 'x' })).status, 416);
    // A chunk without Content-Range (a streamed PATCH) appends.
    assert.equal((await reg.request('PATCH', loc, { body: data.subarray(10, 30) })).headers.range, '0-29');
    const status = await reg.request('GET', loc);
    assert.deepEqual([status.status, status.headers.range], [204, '0-29']);
    const done = await reg.request('PUT', `${loc}?digest=${digestOf(data)}`, { headers: { 'Content-Range': `30-${data.length - 1}` }, body: data.subarray(30) });
    assert.equal(done.status, 201);
    assert.equal((await reg.request('GET', `/v2/chunks/x/blobs/${digestOf(data)}`)).body.toString(), data.toString());
    assert.equal(errorCode(await reg.request('GET', loc)), '404 BLOB_UPLOAD_UNKNOWN');
  });

  test('an upload broken mid-chunk resumes from where the server stands', async () => {
    const data = Buffer.alloc(3 << 20, 7);
    data.write('distinct payload of the broken upload');
    const s = await reg.request('POST', '/v2/resume/x/blobs/uploads/');
    const loc = s.headers.location!;
    await brokenPatch(reg, loc, data.subarray(0, 1 << 20), data.length);
    const status = await reg.request('GET', loc);
    assert.equal(status.status, 204);
    const have = Number(/^0-(\d+)$/.exec(status.headers.range as string)![1]) + 1;
    assert.ok(have > 0 && have <= 1 << 20, `the server holds ${have} bytes`);
    assert.equal((await reg.request('HEAD', `/v2/resume/x/blobs/${digestOf(data)}`)).status, 404);
    const rest = await reg.request('PATCH', loc, { headers: { 'Content-Range': `${have}-${data.length - 1}` }, body: data.subarray(have) });
    assert.equal(rest.status, 202);
    assert.equal((await reg.request('PUT', `${loc}?digest=${digestOf(data)}`)).status, 201);
    assert.ok((await reg.request('GET', `/v2/resume/x/blobs/${digestOf(data)}`)).body.equals(data));
  });

  test('a SIGKILLed server shows no half blob, and the upload goes on after a restart', async () => {
    const data = Buffer.from('x'.repeat(100_000) + 'end');
    const s = await reg.request('POST', '/v2/crash/x/blobs/uploads/');
    const loc = s.headers.location!;
    assert.equal((await reg.request('PATCH', loc, { headers: { 'Content-Range': '0-49999' }, body: data.subarray(0, 50_000) })).status, 202);
    await reg.stop('SIGKILL');
    await reg.start();
    assert.equal((await reg.request('HEAD', `/v2/crash/x/blobs/${digestOf(data)}`)).status, 404);
    assert.ok(!reg.blobs().includes(digestOf(data)));
    assert.equal((await reg.request('GET', loc)).headers.range, '0-49999');
    assert.equal((await reg.request('PUT', `${loc}?digest=${digestOf(data)}`, { headers: { 'Content-Range': `50000-${data.length - 1}` }, body: data.subarray(50_000) })).status, 201);
    assert.ok((await reg.request('GET', `/v2/crash/x/blobs/${digestOf(data)}`)).body.equals(data));
  });

  test('a cancelled upload is gone with its bytes', async () => {
    const s = await reg.request('POST', '/v2/cancel/x/blobs/uploads/');
    await reg.request('PATCH', s.headers.location!, { body: 'some bytes' });
    assert.equal((await reg.request('DELETE', s.headers.location!)).status, 204);
    assert.equal(errorCode(await reg.request('GET', s.headers.location!)), '404 BLOB_UPLOAD_UNKNOWN');
    assert.equal(errorCode(await reg.request('PATCH', s.headers.location!, { body: 'more' })), '404 BLOB_UPLOAD_UNKNOWN');
    assert.equal(errorCode(await reg.request('GET', '/v2/cancel/x/blobs/uploads/not-a-session')), '404 BLOB_UPLOAD_UNKNOWN');
    assert.deepEqual(reg.ingests(), []);
  });

  test('a blob mounts from another repository; without it there, the POST starts an upload', async () => {
    const d = await pushBlob(reg, 'mount/src', 'shared layer');
    const m = await reg.request('POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=mount/src`);
    assert.deepEqual([m.status, m.headers.location, m.headers['docker-content-digest']], [201, `/v2/mount/dst/blobs/${d}`, d]);
    assert.equal((await reg.request('GET', `/v2/mount/dst/blobs/${d}`)).body.toString(), 'shared layer');
    const missing = await reg.request('POST', `/v2/mount/dst/blobs/uploads/?mount=${digestOf('nope')}&from=mount/src`);
    assert.equal(missing.status, 202);
    assert.match(missing.headers.location!, /^\/v2\/mount\/dst\/blobs\/uploads\//);
    assert.equal((await reg.request('POST', `/v2/mount/dst/blobs/uploads/?mount=${d}&from=../etc`)).status, 202);
  });

  test('sha512 blobs are verified and served', async () => {
    const data = Buffer.from('sha512 blob');
    const d = digestOf(data, 'sha512');
    assert.equal((await reg.request('POST', `/v2/five12/x/blobs/uploads/?digest=${d}`, { body: data })).status, 201);
    assert.equal((await reg.request('GET', `/v2/five12/x/blobs/${d}`)).body.toString(), 'sha512 blob');
    assert.equal(errorCode(await reg.request('POST', `/v2/five12/x/blobs/uploads/?digest=${d}`, { body: 'other' })), '400 DIGEST_INVALID');
  });

  test('manifests: push by tag and digest, get and head with their type, and the refusals', async () => {
    const img = await pushImage(reg, 'man/app', 'v1', 'man');
    assert.equal(img.digest, digestOf(img.manifest));
    for (const ref of ['v1', img.digest]) {
      const g = await reg.request('GET', `/v2/man/app/manifests/${ref}`);
      assert.deepEqual([g.status, g.headers['content-type'], g.headers['docker-content-digest']], [200, OCI_MANIFEST, img.digest]);
      assert.ok(g.body.equals(img.manifest));
      const h = await reg.request('HEAD', `/v2/man/app/manifests/${ref}`);
      assert.deepEqual([h.status, Number(h.headers['content-length']), h.body.length], [200, img.manifest.length, 0]);
    }
    const docker = await pushImage(reg, 'man/app', 'docker', 'dock', 2, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal((await reg.request('GET', `/v2/man/app/manifests/docker`)).headers['content-type'], 'application/vnd.docker.distribution.manifest.v2+json');
    // By digest: the body must have that digest.
    assert.equal((await reg.request('PUT', `/v2/man/app/manifests/${img.digest}`, { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest })).status, 201);
    assert.equal(errorCode(await reg.request('PUT', `/v2/man/app/manifests/${docker.digest}`, { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest })), '400 DIGEST_INVALID');
    // An index of both.
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [img, docker].map((x) => ({ mediaType: OCI_MANIFEST, digest: x.digest, size: x.manifest.length, platform: { os: 'linux', architecture: 'amd64' } })) }));
    assert.equal((await reg.request('PUT', '/v2/man/app/manifests/multi', { headers: { 'Content-Type': OCI_INDEX }, body: index })).status, 201);
    assert.equal((await reg.request('GET', '/v2/man/app/manifests/multi')).headers['content-type'], OCI_INDEX);

    const before_ = reg.blobs();
    const unknownBlob = JSON.parse(img.manifest.toString());
    unknownBlob.layers[0].digest = digestOf('never pushed');
    const r = await reg.request('PUT', '/v2/man/app/manifests/broken', { headers: { 'Content-Type': OCI_MANIFEST }, body: JSON.stringify(unknownBlob) });
    assert.equal(errorCode(r), '400 MANIFEST_BLOB_UNKNOWN');
    assert.equal(r.json().errors[0].detail.digest, digestOf('never pushed'));
    // Blobs of another repository do not count.
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/other/manifests/x', { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest })), '400 MANIFEST_BLOB_UNKNOWN');
    const badIndex = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf('no such manifest'), size: 3 }] });
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/app/manifests/bad-index', { headers: { 'Content-Type': OCI_INDEX }, body: badIndex })), '400 MANIFEST_BLOB_UNKNOWN');
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/app/manifests/x', { headers: { 'Content-Type': OCI_MANIFEST }, body: '{"schemaVersion": 2, "config": 5' })), '400 MANIFEST_INVALID');
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/app/manifests/x', { headers: { 'Content-Type': OCI_MANIFEST }, body: '{"schemaVersion": 1, "fsLayers": []}' })), '400 MANIFEST_INVALID');
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/app/manifests/x', { headers: { 'Content-Type': OCI_MANIFEST }, body: Buffer.alloc((4 << 20) + 10, 32) })), '413 MANIFEST_INVALID');
    assert.equal(errorCode(await reg.request('PUT', '/v2/man/app/manifests/bad:tag', { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest })), '400 MANIFEST_INVALID');
    assert.deepEqual(reg.blobs(), before_);
    assert.equal(errorCode(await reg.request('GET', '/v2/man/app/manifests/broken')), '404 MANIFEST_UNKNOWN');
    assert.equal(errorCode(await reg.request('GET', '/v2/man/nothing/manifests/v1')), '404 NAME_UNKNOWN');
    assert.equal((await reg.request('HEAD', '/v2/man/app/manifests/nope')).status, 404);
    // A reference that is neither a tag nor a digest names no manifest (the OCI conformance suite's case).
    assert.equal(errorCode(await reg.request('GET', '/v2/man/app/manifests/.bad')), '404 MANIFEST_UNKNOWN');
    assert.equal((await reg.request('HEAD', '/v2/man/app/manifests/sha256:short')).status, 404);
  });

  test('names with path tricks or capitals are refused before they touch the disk', async () => {
    for (const name of ['..', 'a/../b', 'a/%2e%2e/b', 'Upper/case', 'a/_uploads', 'a//b', 'a/.hidden', '-x']) {
      assert.equal(errorCode(await reg.request('GET', `/v2/${name}/tags/list`)), '400 NAME_INVALID', name);
      assert.equal(errorCode(await reg.request('POST', `/v2/${name}/blobs/uploads/`)), '400 NAME_INVALID', name);
    }
    assert.equal(errorCode(await reg.request('GET', `/v2/${'a'.repeat(256)}/tags/list`)), '400 NAME_INVALID');
  });

  test('tags list in order with n/last pagination and a Link to the next page', async () => {
    for (const t of ['b', 'a', 'e', 'c', 'd']) await pushImage(reg, 'tags/app', t, 'tags');
    assert.deepEqual((await reg.request('GET', '/v2/tags/app/tags/list')).json(), { name: 'tags/app', tags: ['a', 'b', 'c', 'd', 'e'] });
    const p1 = await reg.request('GET', '/v2/tags/app/tags/list?n=2');
    assert.deepEqual(p1.json().tags, ['a', 'b']);
    assert.equal(p1.headers.link, '</v2/tags/app/tags/list?n=2&last=b>; rel="next"');
    const p2 = await reg.request('GET', '/v2/tags/app/tags/list?n=2&last=b');
    assert.deepEqual(p2.json().tags, ['c', 'd']);
    const p3 = await reg.request('GET', '/v2/tags/app/tags/list?n=2&last=d');
    assert.deepEqual([p3.json().tags, p3.headers.link], [['e'], undefined]);
    assert.deepEqual((await reg.request('GET', '/v2/tags/app/tags/list?n=0')).json().tags, []);
    assert.equal(errorCode(await reg.request('GET', '/v2/tags/app/tags/list?n=-1')), '400 PAGINATION_NUMBER_INVALID');
    assert.equal(errorCode(await reg.request('GET', '/v2/tags/none/tags/list')), '404 NAME_UNKNOWN');
  });

  test('deleting a tag keeps the manifest; deleting a manifest takes its tags; deleting a blob unlinks it', async () => {
    const img = await pushImage(reg, 'del/app', 'one', 'del');
    await reg.request('PUT', '/v2/del/app/manifests/two', { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest });
    await reg.request('PUT', '/v2/del/app/manifests/three', { headers: { 'Content-Type': OCI_MANIFEST }, body: img.manifest });
    assert.equal((await reg.request('DELETE', '/v2/del/app/manifests/one')).status, 202);
    assert.equal(errorCode(await reg.request('GET', '/v2/del/app/manifests/one')), '404 MANIFEST_UNKNOWN');
    assert.equal((await reg.request('GET', `/v2/del/app/manifests/${img.digest}`)).status, 200);
    assert.equal((await reg.request('DELETE', `/v2/del/app/manifests/${img.digest}`)).status, 202);
    assert.deepEqual((await reg.request('GET', '/v2/del/app/tags/list')).json().tags, []);
    assert.equal(errorCode(await reg.request('GET', `/v2/del/app/manifests/${img.digest}`)), '404 MANIFEST_UNKNOWN');
    assert.equal(errorCode(await reg.request('DELETE', `/v2/del/app/manifests/${img.digest}`)), '404 MANIFEST_UNKNOWN');
    assert.equal((await reg.request('DELETE', `/v2/del/app/blobs/${img.blobs[1]}`)).status, 202);
    assert.equal(errorCode(await reg.request('GET', `/v2/del/app/blobs/${img.blobs[1]}`)), '404 BLOB_UNKNOWN');
    assert.equal(errorCode(await reg.request('DELETE', `/v2/del/app/blobs/${img.blobs[1]}`)), '404 BLOB_UNKNOWN');
  });

  test('the catalog lists repositories in order, paginated', async () => {
    const all = (await reg.request('GET', '/v2/_catalog')).json().repositories as string[];
    assert.deepEqual(all, [...all].sort());
    assert.ok(all.includes('man/app') && all.includes('tags/app'));
    const p1 = await reg.request('GET', '/v2/_catalog?n=1');
    assert.deepEqual(p1.json().repositories, [all[0]]);
    assert.equal(p1.headers.link, `</v2/_catalog?n=1&last=${encodeURIComponent(all[0])}>; rel="next"`);
    assert.deepEqual((await reg.request('GET', `/v2/_catalog?n=100&last=${all[0]}`)).json().repositories, all.slice(1));
  });

  test('referrers: a manifest with a subject is listed, filtered by artifact type', async () => {
    const subject = await pushImage(reg, 'refs/app', 'v1', 'subject');
    const sigConfig = await pushBlob(reg, 'refs/app', '{}');
    const layer = await pushBlob(reg, 'refs/app', 'signature bytes');
    const artifact = (type: string) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: type,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sigConfig, size: 2 },
        layers: [{ mediaType: 'application/octet-stream', digest: layer, size: 15 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
        annotations: { 'org.example.kind': type },
      });
    const sig = await reg.request('PUT', `/v2/refs/app/manifests/${digestOf(artifact('application/x-sig'))}`, { headers: { 'Content-Type': OCI_MANIFEST }, body: artifact('application/x-sig') });
    assert.deepEqual([sig.status, sig.headers['oci-subject']], [201, subject.digest]);
    await reg.request('PUT', `/v2/refs/app/manifests/sbom`, { headers: { 'Content-Type': OCI_MANIFEST }, body: artifact('application/x-sbom') });
    const all = await reg.request('GET', `/v2/refs/app/referrers/${subject.digest}`);
    assert.equal(all.headers['content-type'], OCI_INDEX);
    assert.deepEqual(all.json().manifests.map((m: { artifactType: string }) => m.artifactType).sort(), ['application/x-sbom', 'application/x-sig']);
    const only = await reg.request('GET', `/v2/refs/app/referrers/${subject.digest}?artifactType=application/x-sig`);
    assert.equal(only.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(only.json().manifests, [{ mediaType: OCI_MANIFEST, digest: digestOf(artifact('application/x-sig')), size: artifact('application/x-sig').length, artifactType: 'application/x-sig', annotations: { 'org.example.kind': 'application/x-sig' } }]);
    assert.deepEqual((await reg.request('GET', `/v2/refs/app/referrers/${digestOf('nothing refers')}`)).json().manifests, []);
    await reg.request('DELETE', `/v2/refs/app/manifests/${digestOf(artifact('application/x-sig'))}`);
    assert.equal((await reg.request('GET', `/v2/refs/app/referrers/${subject.digest}`)).json().manifests.length, 1);
  });

  test('status requests do not hold a session: a chunk sent meanwhile is taken', async () => {
    const s = await reg.request('POST', '/v2/busy/y/blobs/uploads/');
    const looks = Array.from({ length: 20 }, () => reg.request('GET', s.headers.location!));
    const chunk = await reg.request('PATCH', s.headers.location!, { body: 'abc' });
    await Promise.all(looks);
    assert.equal(chunk.status, 202);
    assert.equal((await reg.request('GET', s.headers.location!)).headers.range, '0-2');
  });

  test('concurrent requests on one session: the second is told where the upload stands', async () => {
    const s = await reg.request('POST', '/v2/busy/x/blobs/uploads/');
    let req!: http.ClientRequest;
    const slow = new Promise<number>((resolve) => {
      req = http.request({ host: '127.0.0.1', port: reg.port, method: 'PATCH', path: s.headers.location, headers: { 'Content-Length': 10 } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.write('12345');
    });
    // Half the body is in: the session is busy, and says so to a status request.
    await eventually(async () => (await reg.request('GET', s.headers.location!)).status === 416);
    const second = await reg.request('PATCH', s.headers.location!, { body: 'x' });
    assert.deepEqual([second.status, errorCode(second)], [416, '416 BLOB_UPLOAD_INVALID']);
    req.end('67890');
    assert.equal(await slow, 202);
    assert.equal((await reg.request('GET', s.headers.location!)).headers.range, '0-9');
  });
});
