import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { BERTH, DOCKER, eventually, exec, HAS_DOCKERD, onTerminal, type Result, suiteDaemon, suiteDockerd, type TestDaemon } from './harness';
import { TestRegistry } from './registry-harness';

/** A project folder of the suite's daemon holding these files. */
function projectDir(d: TestDaemon, name: string, files: Record<string, string>): string {
  const dir = path.join(d.dir, 'compose', name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

/** `berth compose` in a folder; the environment's variables added to the test's. */
function compose(d: TestDaemon, dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return exec('sh', ['-c', `cd "$1" && shift && exec "$@"`, 'sh', dir, BERTH, '-H', d.host, 'compose', ...args], { env, timeoutMs: 180_000 });
}

async function ok(d: TestDaemon, dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await compose(d, dir, args, env);
  assert.equal(r.code, 0, `compose ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** Containers, networks and volumes of a project, by compose's labels. */
async function madeBy(d: TestDaemon, project: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const label = `label=com.docker.compose.project=${project}`;
  const lines = (s: string) => s.split('\n').filter(Boolean).sort();
  return {
    containers: lines(await d.ok(['ps', '-a', '--filter', label, '--format', '{{.Names}}'])),
    networks: lines(await d.ok(['network', 'ls', '--filter', label, '--format', '{{.Name}}'])),
    volumes: lines(await d.ok(['volume', 'ls', '--filter', label, '--format', '{{.Name}}'])),
  };
}

const NOTHING = { containers: [], networks: [], volumes: [] };

interface Inspected { Id: string; State: { StartedAt: string; FinishedAt: string; Status: string; ExitCode: number }; Config: { Labels: Record<string, string> } }
const inspect = async (d: TestDaemon, name: string): Promise<Inspected> => JSON.parse(await d.ok(['inspect', name]))[0];

// Containers stop at once (init forwards SIGTERM), so the suite never waits out a grace period.
const APP = `
x-base: &base
  image: busybox
  init: true
services:
  db:
    <<: *base
    command: sh -c 'sleep 1; touch /tmp/ready; exec sleep 1000'
    healthcheck: { test: test -f /tmp/ready, interval: 300ms, retries: 30 }
    volumes: [data:/data]
  migrate:
    <<: *base
    command: sh -c 'echo migrated > /data/schema; exit 0'
    volumes: [data:/data]
    depends_on: { db: { condition: service_healthy } }
  api:
    <<: *base
    command: sh -c 'mkdir -p /w && cat /data/schema > /w/index.html && exec httpd -f -h /w'
    volumes: [data:/data]
    depends_on:
      migrate: { condition: service_completed_successfully }
      db: { condition: service_healthy }
  web:
    <<: *base
    command: \${WEB_CMD:-sleep 1000}
    depends_on: [api]
    deploy: { replicas: 2 }
volumes:
  data: {}
`;

describe('berth compose', { timeout: 900_000 }, () => {
  const d = suiteDaemon();

  test('up: services in dependency order with their conditions; a second up changes nothing, a changed service alone is replaced; down removes exactly what up made', async () => {
    const dir = projectDir(d, 'app', { 'compose.yaml': APP });
    const up = await compose(d, dir, ['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    const db = await inspect(d, 'app-db-1');
    const migrate = await inspect(d, 'app-migrate-1');
    const api = await inspect(d, 'app-api-1');
    const web = await Promise.all(['app-web-1', 'app-web-2'].map((n) => inspect(d, n)));
    // db healthy (about a second after its start) before migrate starts; migrate done before api starts; api started before web.
    assert.ok(Date.parse(migrate.State.StartedAt) - Date.parse(db.State.StartedAt) >= 900, 'migrate waited for db to be healthy');
    assert.equal(migrate.State.ExitCode, 0);
    assert.ok(Date.parse(api.State.StartedAt) >= Date.parse(migrate.State.FinishedAt), 'api waited for migrate to complete');
    for (const w of web) assert.ok(Date.parse(w.State.StartedAt) >= Date.parse(api.State.StartedAt), 'web waited for api');
    assert.equal(await d.ok(['exec', 'app-web-1', 'wget', '-qO-', 'http://api/']), 'migrated', 'service names resolve on the project network; the volume is shared');
    // compose's labels, as docker compose writes them.
    const labels = api.Config.Labels;
    assert.equal(labels['com.docker.compose.project'], 'app');
    assert.equal(labels['com.docker.compose.service'], 'api');
    assert.equal(labels['com.docker.compose.container-number'], '1');
    assert.equal(labels['com.docker.compose.oneoff'], 'False');
    assert.match(labels['com.docker.compose.config-hash'], /^[0-9a-f]{64}$/);
    assert.equal(labels['com.docker.compose.project.config_files'], path.join(dir, 'compose.yaml'));
    assert.deepEqual(await madeBy(d, 'app'), { containers: ['app-api-1', 'app-db-1', 'app-migrate-1', 'app-web-1', 'app-web-2'], networks: ['app_default'], volumes: ['app_data'] });

    assert.equal(await ok(d, dir, ['ps', '--services']), 'api\ndb\nweb', 'ps shows running containers; migrate has exited');
    assert.match(await ok(d, dir, ['ps', '-a', '--format', '{{.Name}} {{.Status}}']), /^app-db-1 Up .*\(healthy\)$/m);
    assert.match(await ok(d, dir, ['ls']), /^app\s+exited\(1\), running\(4\)\s+4\s+1 healthy\s/m);

    // Again, unchanged: the same containers.
    const again = await compose(d, dir, ['up', '-d']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Recreate|Creating/);
    for (const c of [db, api, ...web]) assert.equal((await inspect(d, c.Id)).Id, c.Id);
    // A change to web alone: web replaced, the rest kept.
    const changed = await compose(d, dir, ['up', '-d'], { WEB_CMD: 'sleep 2000' });
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /Container app-web-1 {2}Recreated/);
    assert.doesNotMatch(changed.stderr, /app-(db|api)-1 {2}Recreate/);
    assert.equal((await inspect(d, 'app-db-1')).Id, db.Id);
    assert.notEqual((await inspect(d, 'app-web-1')).Id, web[0].Id);
    // --scale: one more web, then back to one.
    await ok(d, dir, ['up', '-d', '--scale', 'web=3'], { WEB_CMD: 'sleep 2000' });
    assert.equal((await madeBy(d, 'app')).containers.filter((n) => n.startsWith('app-web-')).length, 3);
    await ok(d, dir, ['up', '-d', '--scale', 'web=1', 'web'], { WEB_CMD: 'sleep 2000' });
    assert.deepEqual((await madeBy(d, 'app')).containers.filter((n) => n.startsWith('app-web-')), ['app-web-1']);

    // The graph: every service in its wave, with its state.
    const graph = await ok(d, dir, ['graph']);
    assert.match(graph, /wave 1\n {2}● db +healthy\n/);
    assert.match(graph, /wave 2\n {2}● migrate {2}completed {2}← db \(healthy\)\n/);
    const svg = await ok(d, dir, ['graph', '--format', 'svg']);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.match(/<g class="service ok"/g) ?? []).length, 4);

    const down = await compose(d, dir, ['down', '-v']);
    assert.equal(down.code, 0, down.stderr);
    // Dependents stop before what they need.
    const order = [...down.stderr.matchAll(/Container app-(\w+)-\d {2}Removed/g)].map((m) => m[1]);
    assert.ok(order.indexOf('web') < order.indexOf('api') && order.indexOf('api') < order.indexOf('db'), order.join(' '));
    assert.deepEqual(await madeBy(d, 'app'), NOTHING);
    await d.assertClean();
  });

  test('a failed service keeps back what needs it, the rest of the graph starts, and the report says why; down removes what started', async () => {
    const dir = projectDir(d, 'broken', {
      'compose.yaml': `
x-base: &base
  image: busybox
  init: true
services:
  seed:
    <<: *base
    command: sh -c 'echo "cannot reach the bucket" >&2; exit 3'
  cache:
    <<: *base
    command: sleep 1000
    depends_on: { seed: { condition: service_completed_successfully } }
  api:
    <<: *base
    command: sleep 1000
    depends_on: [cache]
  sick:
    <<: *base
    command: sleep 1000
    healthcheck: { test: "echo no database; exit 1", interval: 200ms, retries: 2 }
  worker:
    <<: *base
    command: sleep 1000
    depends_on: { sick: { condition: service_healthy } }
  independent:
    <<: *base
    command: sleep 1000
`,
    });
    const up = await compose(d, dir, ['up', '-d']);
    assert.equal(up.code, 1, 'a failed service is a failed up');
    assert.match(up.stderr, /✘ service "seed" did not meet its condition: container broken-seed-1 exited with code 3; its last output: cannot reach the bucket\n {2}not started because of it: api, cache\n/);
    assert.match(up.stderr, /✘ service "sick" did not meet its condition: container broken-sick-1 is unhealthy \(its last check exited 1: no database\)\n {2}not started because of it: worker\n/);
    assert.match(up.stderr, /3 of 6 services started/);
    assert.deepEqual((await madeBy(d, 'broken')).containers, ['broken-independent-1', 'broken-seed-1', 'broken-sick-1']);
    const graph = await compose(d, dir, ['graph']);
    assert.equal(graph.code, 1, 'graph exits 1 while a service has failed');
    assert.match(graph.stdout, /✘ seed +exited \(3\): cannot reach the bucket/);
    assert.match(graph.stdout, /● api +not started: kept back by seed/);
    assert.match(graph.stdout, /✘ sick +unhealthy: check exited 1: no database/);
    assert.match((await compose(d, dir, ['graph', '--format', 'dot'])).stdout, /"seed" \[label="seed\\nexited \(3\)\\ncannot reach the bucket", fillcolor="#ffcdd2", color="#c62828"/);
    await ok(d, dir, ['down']);
    assert.deepEqual(await madeBy(d, 'broken'), NOTHING);
  });

  test('bad input is refused before anything is made, with the file, line, service and field', async () => {
    const cases: [string, Record<string, string>, RegExp, NodeJS.ProcessEnv?][] = [
      ['cycle', { 'compose.yaml': 'services:\n  a: {image: busybox, depends_on: [b]}\n  b: {image: busybox, depends_on: [c]}\n  c: {image: busybox, depends_on: [a]}\n' }, /dependency cycle detected: a -> b -> c -> a/],
      ['unknown', { 'compose.yaml': 'services:\n  a: {image: busybox, depends_on: [nope]}\n' }, /service "a" depends on undefined service "nope"/],
      ['type', { 'compose.yaml': 'services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    ports: "80"\n' }, /compose\.yaml:6: service "b", field ports must be array/],
      ['unset', { 'compose.yaml': 'services:\n  a:\n    image: "busybox:${TAG:?set TAG to the release}"\n' }, /required variable TAG is missing a value: set TAG to the release/],
      ['ports', { 'compose.yaml': 'services:\n  a: {image: busybox, ports: ["18090:80"]}\n  b: {image: busybox, ports: ["18090:81"]}\n' }, /services "a" and "b" both publish host port 18090\/tcp/],
      ['image', { 'compose.yaml': 'services:\n  a: {image: busybox}\n  b: {image: "no-such-image:1", pull_policy: never}\n' }, /service "b": image no-such-image:1 is not present and the pull policy is never\nnothing was created/],
    ];
    for (const [name, files, error, env] of cases) {
      const dir = projectDir(d, `bad-${name}`, files);
      const r = await compose(d, dir, ['up', '-d'], env);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, error, name);
      assert.deepEqual(await madeBy(d, `bad-${name}`), NOTHING, `${name}: nothing made`);
    }
  });

  test('environments: the same file under ten project names runs side by side; names resolve only inside each, and no route joins them', async () => {
    const dir = projectDir(d, 'env', {
      'compose.yaml': `
services:
  server:
    image: busybox
    init: true
    command: sh -c 'mkdir -p /w && hostname > /w/index.html && exec httpd -f -h /w'
  client:
    image: busybox
    init: true
    command: sleep 1000
    depends_on: [server]
`,
    });
    const envs = Array.from({ length: 10 }, (_, i) => `feature-${i}`);
    const ups = await Promise.all(envs.map((e) => compose(d, dir, ['-p', e, 'up', '-d'])));
    ups.forEach((r, i) => assert.equal(r.code, 0, `${envs[i]}: ${r.stderr}`));
    const servers = await Promise.all(envs.map((e) => inspect(d, `${e}-server-1`)));
    const ipOf = async (e: string) => (await d.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${e}_default").IPAddress}}`, `${e}-server-1`]));
    for (const [i, e] of envs.entries()) {
      assert.equal(await d.ok(['exec', `${e}-client-1`, 'wget', '-qO-', 'http://server/']), servers[i].Id.slice(0, 12), `${e} reaches its own server by name`);
    }
    const other = await ipOf('feature-1');
    const cross = await d.berth(['exec', 'feature-0-client-1', 'wget', '-T', '2', '-qO-', `http://${other}/`]);
    assert.notEqual(cross.code, 0, 'no route from one environment to another');
    const byName = await d.berth(['exec', 'feature-0-client-1', 'nslookup', 'feature-1-server-1']);
    assert.doesNotMatch(byName.stdout, new RegExp(other.replace(/\./g, '\\.')), "another environment's names do not resolve");
    const ls = await ok(d, dir, ['ls', '--format', 'json']);
    assert.deepEqual((JSON.parse(ls) as { Name: string; Services: number }[]).filter((p) => p.Name.startsWith('feature-')).map((p) => `${p.Name}:${p.Services}`), envs.map((e) => `${e}:2`));
    // Each down removes its own environment only.
    await ok(d, dir, ['-p', 'feature-0', 'down']);
    assert.deepEqual(await madeBy(d, 'feature-0'), NOTHING);
    assert.equal((await madeBy(d, 'feature-1')).containers.length, 2);
    const downs = await Promise.all(envs.slice(1).map((e) => compose(d, dir, ['-p', e, 'down'])));
    downs.forEach((r) => assert.equal(r.code, 0, r.stderr));
    for (const e of envs) assert.deepEqual(await madeBy(d, e), NOTHING);
  });

  test('a layered environment: only b of a → b → c is replaced; the feature reaches its own b and the base for the rest; the base never reaches the feature', async () => {
    const service = (name: string, needs?: string) => `  ${name}:\n    image: busybox\n    init: true\n    command: sh -c 'mkdir -p /w && echo "${name}(\${VERSION:-base})" > /w/index.html && exec httpd -f -h /w'\n${needs ? `    depends_on: [${needs}]\n` : ''}`;
    const dir = projectDir(d, 'chain', { 'compose.yaml': `services:\n${service('a', 'b')}${service('b', 'c')}${service('c')}` });
    await ok(d, dir, ['-p', 'main', 'up', '-d']);
    await ok(d, dir, ['-p', 'feature-42', '--base', 'main', 'up', '-d', 'b'], { VERSION: 'feature' });
    assert.deepEqual((await madeBy(d, 'feature-42')).containers, ['feature-42-b-1'], 'only b runs in the feature environment');
    const get = (from: string, to: string) => d.ok(['exec', from, 'wget', '-qO-', `http://${to}/`]);
    assert.equal(await get('feature-42-b-1', 'b'), 'b(feature)');
    assert.equal(await get('feature-42-b-1', 'c'), 'c(base)', 'what it does not replace comes from the base');
    assert.equal(await get('main-a-1', 'b'), 'b(base)', 'the base never calls into the feature');
    assert.equal(await get('main-b-1', 'c'), 'c(base)');
    // With its dependents: a and b in the feature, a reaching the feature's b.
    await ok(d, dir, ['-p', 'feature-43', '--base', 'main', 'up', '-d', '--with-dependents', 'b'], { VERSION: 'feature' });
    assert.deepEqual((await madeBy(d, 'feature-43')).containers, ['feature-43-a-1', 'feature-43-b-1']);
    assert.equal(await get('feature-43-a-1', 'b'), 'b(feature)');
    assert.equal(await get('main-a-1', 'b'), 'b(base)');
    assert.match(await ok(d, dir, ['ls']), /^feature-42\s+running\(1\)\s+1\s+-\s+.*\s+main\s/m);
    // A base that does not run is refused before anything is made.
    const none = await compose(d, dir, ['-p', 'feature-44', '--base', 'nothing-here', 'up', '-d', 'b']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /the base environment nothing-here runs no containers/);
    assert.deepEqual(await madeBy(d, 'feature-44'), NOTHING);
    for (const p of ['feature-42', 'feature-43']) await ok(d, dir, ['-p', p, 'down']);
    assert.equal((await madeBy(d, 'main')).containers.length, 3, 'down of a feature leaves the base alone');
    await ok(d, dir, ['-p', 'main', 'down']);
    await d.assertClean();
  });

  test("docker-compose 1.29 and berth compose see each other's projects", async () => {
    const dir = projectDir(d, 'interop', { 'docker-compose.yml': 'version: "3.8"\nservices:\n  db:\n    image: busybox\n    init: true\n    command: sleep 1000\n  app:\n    image: busybox\n    init: true\n    command: sleep 1000\n    depends_on: [db]\n' });
    const dc = (args: string[]) => exec('docker-compose', ['-H', d.host, ...args], { timeoutMs: 120_000 });
    const inDir = (args: string[]) => exec('sh', ['-c', `cd "$1" && shift && exec "$@"`, 'sh', dir, 'docker-compose', '-H', d.host, ...args], { timeoutMs: 120_000 });
    await ok(d, dir, ['-p', 'interop', 'up', '-d']);
    const ps = await inDir(['-p', 'interop', 'ps', '--services']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.deepEqual(ps.stdout.trim().split('\n').sort(), ['app', 'db'], "docker-compose lists berth compose's services");
    const down = await inDir(['-p', 'interop', 'down']);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await madeBy(d, 'interop'), NOTHING, "docker-compose's down removes berth compose's project");
    const up = await dc(['-f', path.join(dir, 'docker-compose.yml'), '-p', 'interop', 'up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual((await ok(d, dir, ['-p', 'interop', 'ps', '--services'])).split('\n'), ['app', 'db'], "berth compose lists docker-compose's services");
    await ok(d, dir, ['-p', 'interop', 'down']);
    assert.deepEqual(await madeBy(d, 'interop'), NOTHING, "berth compose's down removes docker-compose's project");
  });

  test('build: a service built from its context is named project-service; up builds it when missing, --build again, and replaces the container', async () => {
    const dir = projectDir(d, 'built', {
      'compose.yaml': 'services:\n  app:\n    build:\n      context: ./app\n      args: [GREETING]\n    init: true\n    command: sleep 1000\n',
    });
    fs.mkdirSync(path.join(dir, 'app'));
    fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox\nARG GREETING=none\nRUN echo "$GREETING" > /greeting\n');
    await ok(d, dir, ['up', '-d'], { GREETING: 'first' });
    assert.equal(await d.ok(['exec', 'built-app-1', 'cat', '/greeting']), 'first');
    assert.equal(await d.ok(['image', 'inspect', '-f', '{{index .RepoTags 0}}', 'built-app']), 'built-app:latest');
    const before = (await inspect(d, 'built-app-1')).Id;
    // Present: not built again without --build.
    const again = await compose(d, dir, ['up', '-d'], { GREETING: 'second' });
    assert.doesNotMatch(again.stderr, /Building/);
    assert.equal((await inspect(d, 'built-app-1')).Id, before);
    const rebuilt = await compose(d, dir, ['up', '-d', '--build'], { GREETING: 'second' });
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.equal(await d.ok(['exec', 'built-app-1', 'cat', '/greeting']), 'second', 'a new image replaces the container');
    // A build that fails: nothing made.
    fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox\nRUN exit 7\n');
    await ok(d, dir, ['down']);
    const failed = await compose(d, dir, ['up', '-d', '--build']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /service "app": the build of built-app failed: .*(exit 7|non-zero code: 7)/);
    assert.deepEqual(await madeBy(d, 'built'), NOTHING);
    await d.ok(['rmi', 'built-app']);
  });

  test('logs, exec, run, stop and start, config', async () => {
    const dir = projectDir(d, 'ops', {
      'compose.yaml': 'services:\n  talk:\n    image: busybox\n    init: true\n    command: sh -c \'echo hello from $$HOSTNAME; exec sleep 1000\'\n    environment: [GREETING=hi]\n    secrets: [db_pass, api_token, { source: db_pass, target: owned, uid: \'1000\', gid: \'1001\', mode: 0400 }]\n    configs: [{ source: motd, target: /etc/motd, mode: 0440 }]\n  quiet:\n    image: busybox\n    init: true\n    command: sleep 1000\n    profiles: [extra]\nsecrets:\n  db_pass: { file: ./db_pass.txt }\n  api_token: { environment: API_TOKEN }\nconfigs:\n  motd: { content: "welcome" }\n',
      'db_pass.txt': 's3cret\n',
    });
    // On a terminal, up draws the graph's waves.
    const tty = await onTerminal(`cd ${dir} && API_TOKEN=t0k ${BERTH} -H ${d.host} compose up -d`, '');
    assert.equal(tty.code, 0, tty.stdout);
    assert.match(tty.stdout, /✔.* wave {2}1 {2}1\/1 started {2}\d+\.\ds/);
    assert.deepEqual((await madeBy(d, 'ops')).containers, ['ops-talk-1'], 'a service of a profile not enabled does not run');
    // Secrets and configs: a file bound read-only, a variable's and inline content written in before the start.
    assert.equal(await d.ok(['exec', 'ops-talk-1', 'cat', '/run/secrets/db_pass', '/run/secrets/api_token', '/etc/motd']), 's3cret\nt0kwelcome');
    assert.equal(await d.ok(['exec', 'ops-talk-1', 'stat', '-c', '%a', '/etc/motd']), '440');
    // A file's secret that asks for an owner and a mode is copied in with them (docker compose ignores them).
    assert.equal(await d.ok(['exec', 'ops-talk-1', 'stat', '-c', '%u %g %a %s', '/run/secrets/owned']), '1000 1001 400 7');
    assert.notEqual((await d.berth(['exec', 'ops-talk-1', 'sh', '-c', 'echo x > /run/secrets/db_pass'])).code, 0, 'a secret file is read-only');
    assert.match(await ok(d, dir, ['logs', 'talk']), /^ops-talk-1 {2}\| hello from [0-9a-f]{12}$/m);
    assert.equal(await ok(d, dir, ['exec', '-T', 'talk', 'sh', '-c', 'echo $GREETING']), 'hi');
    assert.equal(await ok(d, dir, ['run', '--rm', '-T', 'talk', 'cat', '/run/secrets/api_token'], { API_TOKEN: 'for-run' }), 'for-run');
    assert.deepEqual((await madeBy(d, 'ops')).containers, ['ops-talk-1'], 'run --rm leaves nothing');
    await ok(d, dir, ['stop']);
    assert.equal((await inspect(d, 'ops-talk-1')).State.Status, 'exited');
    await ok(d, dir, ['start']);
    assert.equal((await inspect(d, 'ops-talk-1')).State.Status, 'running');
    assert.equal(await ok(d, dir, ['--profile', 'extra', 'config', '--services']), 'quiet\ntalk');
    assert.match(await ok(d, dir, ['config']), /^name: ops\nservices:\n {2}talk:\n/);
    await ok(d, dir, ['down']);
    assert.deepEqual(await madeBy(d, 'ops'), NOTHING);
    await d.assertClean();
  });

  test('attached up: --exit-code-from, --abort-on-container-failure, --attach and --no-attach, as docker compose gives them', async () => {
    const dir = projectDir(d, 'attached', {
      'compose.yaml': 'services:\n  server:\n    image: busybox\n    init: true\n    command: sh -c \'echo serving; exec sleep 1000\'\n  tests:\n    image: busybox\n    command: sh -c \'sleep 0.5; echo ran the tests; exit 5\'\n    depends_on: [server]\n  lint:\n    image: busybox\n    command: sh -c \'echo linted\'\n    attach: false\n',
    });
    // The exit code is the tests' own, and the project is stopped (not removed) when they end.
    const ran = await compose(d, dir, ['up', '--exit-code-from', 'tests']);
    assert.equal(ran.code, 5, ran.stderr);
    assert.match(ran.stdout, /^attached-tests-1 +\| ran the tests$/m);
    assert.match(ran.stdout, /^attached-server-1 +\| serving$/m);
    assert.doesNotMatch(ran.stdout, /linted/, 'attach: false keeps a service\'s output out');
    assert.match(ran.stderr, /Aborting on container exit/);
    assert.equal((await inspect(d, 'attached-server-1')).State.Status, 'exited');
    // --attach shows that service alone; --no-attach takes one out.
    const only = await compose(d, dir, ['up', '--attach', 'tests', '--abort-on-container-exit']);
    assert.equal(only.code, 5);
    assert.match(only.stdout, /ran the tests/);
    assert.doesNotMatch(only.stdout, /serving/);
    const less = await compose(d, dir, ['up', '--no-attach', 'server', '--abort-on-container-failure']);
    assert.equal(less.code, 5, 'the first failure stops the project and gives its code');
    assert.doesNotMatch(less.stdout, /serving/);
    // lint exits 0 first: under --abort-on-container-failure that stops nothing.
    assert.equal((await inspect(d, 'attached-lint-1')).State.ExitCode, 0);
    for (const [args, why] of [
      [['up', '-d', '--exit-code-from', 'tests'], /--detach cannot be combined with --abort-on-container-exit/],
      [['up', '--abort-on-container-exit', '--abort-on-container-failure'], /mutually exclusive/],
      [['up', '--exit-code-from', 'nope'], /--exit-code-from: no such service: nope/],
      [['up', '--attach', 'nope'], /cannot attach to services not included in up: nope/],
    ] as [string[], RegExp][]) {
      const r = await compose(d, dir, args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, why);
      assert.equal(await d.ok(['ps', '-q', '--filter', 'label=com.docker.compose.project=attached']), '', `${args.join(' ')}: refused before anything was started`);
    }
    await ok(d, dir, ['down']);
    assert.deepEqual(await madeBy(d, 'attached'), NOTHING);
  });

  test('cp into every container of a service and out of one; attach gives the exit code; run --publish; push pushes what is built', async () => {
    const reg = new TestRegistry();
    await reg.start();
    try {
      const image = `${reg.addr}/team/app:1`;
      const dir = projectDir(d, 'moves', {
        'compose.yaml': `services:\n  app:\n    build: ./app\n    image: ${image}\n    init: true\n    command: sleep 1000\n    deploy: { replicas: 2 }\n    ports: ["127.0.0.1::8000"]\n  job:\n    image: busybox\n    command: sh -c 'sleep 1; echo late; exit 3'\n`,
        'note.txt': 'copied in\n',
      });
      fs.mkdirSync(path.join(dir, 'app'));
      fs.writeFileSync(path.join(dir, 'app', 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
      await ok(d, dir, ['up', '-d', 'app']);
      await ok(d, dir, ['cp', 'note.txt', 'app:/tmp/note.txt']);
      for (const c of ['moves-app-1', 'moves-app-2']) assert.equal(await d.ok(['exec', c, 'cat', '/tmp/note.txt']), 'copied in', `cp reaches ${c}`);
      await d.ok(['exec', 'moves-app-2', 'sh', '-c', 'echo from two > /tmp/two']);
      await ok(d, dir, ['cp', '--index', '2', 'app:/tmp/two', 'two.txt']);
      assert.equal(fs.readFileSync(path.join(dir, 'two.txt'), 'utf8'), 'from two\n');
      assert.match((await compose(d, dir, ['cp', 'app:/tmp/two', 'job:/tmp'])).stderr, /copying between services is not supported/);
      assert.match((await compose(d, dir, ['cp', 'a.txt', 'b.txt'])).stderr, /must specify at least one service/);
      // attach: the output from then on, and the container's exit code.
      await ok(d, dir, ['up', '-d', 'job']);
      const attached = await compose(d, dir, ['attach', '--no-stdin', 'job']);
      assert.equal(attached.code, 3);
      assert.match(attached.stdout, /late/);
      // run: the service's ports only with --service-ports; -p's besides.
      const published = async (args: string[]) => {
        const id = await ok(d, dir, ['run', '-d', ...args, 'app', 'sleep', '1000']);
        const ports = JSON.parse(await d.ok(['inspect', '-f', '{{json .HostConfig.PortBindings}}', id])) as Record<string, unknown> | null;
        await d.ok(['rm', '-f', id]);
        return Object.keys(ports ?? {}).sort();
      };
      assert.deepEqual(await published([]), []);
      assert.deepEqual(await published(['-p', '127.0.0.1::9000']), ['9000/tcp']);
      assert.deepEqual(await published(['--service-ports', '-p', '127.0.0.1::9000/udp']), ['8000/tcp', '9000/udp']);
      assert.match((await compose(d, dir, ['run', '-p', 'x:y', 'app'])).stderr, /invalid port "x:y"/);
      // push: the built service's image to its registry; job, which only runs an image, is skipped.
      const pushed = await compose(d, dir, ['push']);
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.match(pushed.stderr, new RegExp(`Image ${image.replace(/[.]/g, '\\.')} {2}Pushed`));
      const res = await fetch(`http://${reg.addr}/v2/team/app/manifests/1`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
      assert.equal(res.status, 200, 'the registry has the pushed tag');
      await ok(d, dir, ['down']);
      await d.ok(['rmi', image]);
      assert.deepEqual(await madeBy(d, 'moves'), NOTHING);
    } finally {
      await reg.cleanup();
    }
  });

  test('watch: sync (and removal), sync+restart, sync+exec and rebuild follow the sources until Ctrl-C', async () => {
    const dir = projectDir(d, 'watched', {
      'compose.yaml': `services:
  web:
    build: ./web
    init: true
    command: sleep 1000
    develop:
      watch:
        - { action: sync, path: ./web/static, target: /app/static, ignore: ["*.tmp"] }
        - { action: sync+restart, path: ./web/conf, target: /etc/web }
        - { action: sync+exec, path: ./web/hooks, target: /hooks, exec: { command: "sh /hooks/run.sh" } }
        - { action: rebuild, path: ./web/Dockerfile }
`,
    });
    const web = path.join(dir, 'web');
    for (const sub of ['static', 'conf', 'hooks']) fs.mkdirSync(path.join(web, sub), { recursive: true });
    fs.writeFileSync(path.join(web, 'Dockerfile'), 'FROM busybox\nCOPY . /app\n');
    const child = spawn(BERTH, ['-H', d.host, 'compose', 'watch', '--prune'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const ended = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const inWeb = async (cmd: string) => (await d.berth(['exec', 'watched-web-1', 'sh', '-c', cmd])).stdout.trim();
    try {
      await eventually(() => out.includes('Watch enabled'), 60_000);
      // A file and a new folder are copied in; a file the rule ignores is not.
      fs.writeFileSync(path.join(web, 'static', 'index.html'), 'v1');
      fs.writeFileSync(path.join(web, 'static', 'scratch.tmp'), 'no');
      fs.mkdirSync(path.join(web, 'static', 'css'));
      fs.writeFileSync(path.join(web, 'static', 'css', 'site.css'), 'body{}');
      await eventually(async () => (await inWeb('cat /app/static/index.html /app/static/css/site.css 2>/dev/null')) === 'v1body{}', 15_000);
      assert.equal(await inWeb('ls /app/static'), 'css\nindex.html');
      // A file removed from the host is removed in the container.
      fs.rmSync(path.join(web, 'static', 'index.html'));
      await eventually(async () => (await inWeb('test -e /app/static/index.html || echo gone')) === 'gone', 15_000);
      // sync+restart: the file, then a restart.
      const started = (await inspect(d, 'watched-web-1')).State.StartedAt;
      fs.writeFileSync(path.join(web, 'conf', 'web.conf'), 'port=1');
      await eventually(async () => (await inspect(d, 'watched-web-1')).State.StartedAt !== started, 15_000);
      assert.equal(await inWeb('cat /etc/web/web.conf'), 'port=1');
      // sync+exec: the hook runs in the container after the files land.
      fs.writeFileSync(path.join(web, 'hooks', 'run.sh'), 'echo hooked > /tmp/hooked\n');
      await eventually(async () => (await inWeb('cat /tmp/hooked 2>/dev/null')) === 'hooked', 15_000);
      // rebuild: a new image and a new container; --prune removes the image it replaced.
      const before = await inspect(d, 'watched-web-1');
      const oldImage = (JSON.parse(await d.ok(['inspect', 'watched-web-1']))[0] as { Image: string }).Image;
      fs.writeFileSync(path.join(web, 'Dockerfile'), 'FROM busybox\nCOPY . /app\nRUN echo v2 > /version\n');
      await eventually(async () => (await d.berth(['inspect', 'watched-web-1'])).code === 0 && (await inspect(d, 'watched-web-1')).Id !== before.Id && (await inWeb('cat /version 2>/dev/null')) === 'v2', 60_000);
      assert.notEqual((await d.berth(['image', 'inspect', oldImage])).code, 0, '--prune removed the replaced image');
      assert.match(out, /Rebuilding service\(s\) \["web"\]/);
      assert.match(out, /Synced service "web"/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await ended, 0, out);
    await ok(d, dir, ['down', '--rmi', 'local']);
    assert.deepEqual(await madeBy(d, 'watched'), NOTHING);
    // Bad rules are refused before anything is made.
    const badDir = projectDir(d, 'watchbad', { 'compose.yaml': 'services:\n  web:\n    image: busybox\n    develop:\n      watch: [{ action: sync, path: ./web }]\n' });
    const bad = await compose(d, badDir, ['watch']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /service "web": develop.watch\[0\]: a sync rule needs a target/);
    assert.deepEqual(await madeBy(d, 'watchbad'), NOTHING);
  });

  test('create and up --no-start make and leave stopped; scale; wait gives the first exit code; version', async () => {
    const dir = projectDir(d, 'made', {
      'compose.yaml': 'services:\n  db:\n    image: busybox\n    init: true\n    command: sleep 1000\n    healthcheck: { test: "false", interval: 1s }\n  job:\n    image: busybox\n    command: sh -c \'sleep 0.3; exit 3\'\n    depends_on: { db: { condition: service_healthy } }\n',
    });
    // No condition is waited on (db would never be healthy): both are made, in order, and left stopped.
    await ok(d, dir, ['create']);
    const states = async () => (await d.ok(['ps', '-a', '--filter', 'label=com.docker.compose.project=made', '--format', '{{.Names}} {{.State}}'])).split('\n').sort();
    assert.deepEqual(await states(), ['made-db-1 created', 'made-job-1 created']);
    await ok(d, dir, ['up', '--no-start', '--scale', 'db=2']);
    assert.deepEqual(await states(), ['made-db-1 created', 'made-db-2 created', 'made-job-1 created']);
    assert.match((await compose(d, dir, ['up', '--no-start', '--wait'])).stderr, /--no-start and --wait are incompatible/);
    await ok(d, dir, ['scale', 'db=1']);
    assert.deepEqual(await states(), ['made-db-1 running', 'made-job-1 created'], 'scale starts what it keeps, removes the extra, leaves the rest');
    // wait: the exit code of the first to stop; --down-project takes the project down then.
    await ok(d, dir, ['start', 'job']);
    const waited = await compose(d, dir, ['wait', 'job']);
    assert.equal(waited.code, 3);
    await ok(d, dir, ['start', 'job']);
    assert.equal((await compose(d, dir, ['wait', '--down-project'])).code, 3);
    assert.deepEqual(await madeBy(d, 'made'), NOTHING);
    assert.match(await ok(d, dir, ['version']), /^Berth Compose version v2\.\d+\.\d+/);
    assert.match(await ok(d, dir, ['version', '--short']), /^2\.\d+\.\d+/);
    assert.match((await compose(d, dir, ['wait'])).stderr, /no containers to wait for in project made/);
    await d.assertClean();
  });
});

describe('berth compose against dockerd', { skip: !HAS_DOCKERD && 'dockerd is not installed', timeout: 300_000 }, () => {
  const dockerd = suiteDockerd();

  test('a client of the Engine API: the same file up (a health condition waited on) and down against a private dockerd', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-dockerd-'));
    try {
      fs.writeFileSync(path.join(dir, 'compose.yaml'), `
services:
  db:
    image: busybox
    init: true
    command: sh -c 'sleep 1; touch /tmp/ready; exec sleep 1000'
    healthcheck: { test: test -f /tmp/ready, interval: 300ms, retries: 30 }
  app:
    image: busybox
    init: true
    command: sleep 1000
    depends_on: { db: { condition: service_healthy } }
`);
      const run = (args: string[]) => exec('sh', ['-c', `cd "$1" && shift && exec "$@"`, 'sh', dir, BERTH, '-H', dockerd.host, 'compose', '-p', 'ondocker', ...args], { timeoutMs: 120_000 });
      const up = await run(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stderr, /Container ondocker-db-1 {2}Healthy/);
      const ps = await exec(DOCKER, ['-H', dockerd.host, 'ps', '--filter', 'label=com.docker.compose.project=ondocker', '--format', '{{.Names}} {{.Status}}'], { env: { DOCKER_CLI_HINTS: 'false' } });
      assert.deepEqual(ps.stdout.trim().split('\n').sort().map((l) => l.split(' ')[0]), ['ondocker-app-1', 'ondocker-db-1']);
      assert.match(ps.stdout, /ondocker-db-1 Up .*\(healthy\)/);
      const down = await run(['down']);
      assert.equal(down.code, 0, down.stderr);
      const left = await exec(DOCKER, ['-H', dockerd.host, 'ps', '-aq', '--filter', 'label=com.docker.compose.project=ondocker']);
      assert.equal(left.stdout.trim(), '');
      const nets = await exec(DOCKER, ['-H', dockerd.host, 'network', 'ls', '-q', '--filter', 'label=com.docker.compose.project=ondocker']);
      assert.equal(nets.stdout.trim(), '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
