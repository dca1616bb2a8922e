import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { loadProject, type LoadOptions } from './load';
import { checkGrants } from './references';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-load-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A project directory holding these files. */
function dir(files: Record<string, string>): string {
  const d = path.join(root, `p${n++}`);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), text);
  }
  return d;
}

const load = (cwd: string, o: Partial<LoadOptions> = {}) => loadProject({ files: [], env: {}, cwd, ...o });

test('the compose file and its override are found, merged by the spec rules (the docs example)', () => {
  const d = dir({
    'compose.yaml': `
services:
  web:
    image: example/my_web_app:latest
    depends_on: [db, cache]
    environment: [A=1, B=base]
    command: python app.py
    ports: ["8000:80"]
    volumes: ["./data:/data", "logs:/logs"]
    dns: [1.1.1.1]
  db:
    image: postgres:latest
  cache:
    image: redis:latest
volumes:
  logs: {}
`,
    'compose.override.yaml': `
services:
  web:
    build: .
    environment: { B: over, C: "3" }
    command: python app.py --debug
    ports: ["8000:80", "9000:90"]
    volumes: ["./other:/data"]
    dns: [8.8.8.8]
`,
  });
  const p = load(d);
  assert.equal(p.name, path.basename(d));
  assert.deepEqual(p.configFiles, [path.join(d, 'compose.yaml'), path.join(d, 'compose.override.yaml')]);
  const web = p.services.web;
  assert.equal(web.image, 'example/my_web_app:latest');
  assert.equal(web.build?.context, d);
  assert.deepEqual(web.environment, { A: '1', B: 'over', C: '3' });
  assert.deepEqual(web.command, ['python', 'app.py', '--debug']);
  assert.deepEqual(web.ports.map((x) => `${x.published}:${x.target}`), ['8000:80', '9000:90']);
  assert.deepEqual(web.volumes.map((v) => `${v.source}:${v.target}`), [`${path.join(d, 'other')}:/data`, 'logs:/logs']);
  assert.deepEqual(web.dns, ['1.1.1.1', '8.8.8.8']);
  assert.deepEqual(Object.keys(web.depends_on), ['db', 'cache']);
  assert.deepEqual(web.networks, { default: { aliases: [], priority: 0 } });
  assert.equal(p.networks.default.name, `${p.name}_default`);
  assert.equal(p.volumes.logs.name, `${p.name}_logs`);
});

test('.env and the shell interpolate; the shell wins; -p, COMPOSE_PROJECT_NAME and name: in that order', () => {
  const d = dir({
    'docker-compose.yml': 'name: from-file\nservices:\n  app:\n    image: "busybox:${TAG}"\n    environment:\n      - FROM_SHELL\n      - MISSING\n      - X=${X:-dx}\n',
    '.env': 'TAG=env-file\nX=from-env-file\n',
  });
  assert.equal(load(d).name, 'from-file');
  assert.equal(load(d).services.app.image, 'busybox:env-file');
  assert.equal(load(d, { env: { TAG: 'shell' } }).services.app.image, 'busybox:shell');
  assert.deepEqual(load(d, { env: { FROM_SHELL: 'yes' } }).services.app.environment, { FROM_SHELL: 'yes', X: 'from-env-file' });
  assert.equal(load(d, { env: { COMPOSE_PROJECT_NAME: 'Env_Name' } }).name, 'env_name');
  assert.equal(load(d, { projectName: 'flag', env: { COMPOSE_PROJECT_NAME: 'x' } }).name, 'flag');
  fs.writeFileSync(path.join(d, 'other.env'), 'TAG=other\n');
  assert.equal(load(d, { envFiles: ['other.env'] }).services.app.image, 'busybox:other');
});

test('several -f files: later ones override; relative paths are the project directory\'s', () => {
  const d = dir({ 'a.yml': 'services:\n  s:\n    image: a\n    labels: {x: "1"}\n', 'sub/b.yml': 'services:\n  s:\n    image: b\n    labels: [y=2]\n    env_file: vars.env\n', 'vars.env': 'V=1\n' });
  const p = load(d, { files: ['a.yml', 'sub/b.yml'] });
  assert.equal(p.services.s.image, 'b');
  assert.deepEqual(p.services.s.labels, { x: '1', y: '2' });
  assert.deepEqual(p.services.s.environment, { V: '1' });
});

test('extends: same file and another file, chained; the extending service wins; cycles are named', () => {
  const d = dir({
    'common.yml': 'services:\n  base:\n    image: busybox\n    environment: {A: "1", B: "1"}\n    command: ["sleep", "1"]\n',
    'compose.yaml': `
services:
  mid:
    extends: { file: common.yml, service: base }
    environment: { B: "2" }
  web:
    extends: mid
    command: sleep 9
`,
  });
  const p = load(d);
  assert.deepEqual(p.services.web.environment, { A: '1', B: '2' });
  assert.deepEqual(p.services.web.command, ['sleep', '9']);
  assert.equal(p.services.web.image, 'busybox');
  assert.equal(p.services.web.name, 'web');
  const c = dir({ 'compose.yaml': 'services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: y\n' });
  assert.throws(() => load(c), /circular reference with extends: a -> b -> a/);
});

test('include: another project\'s services join, read against their own directory; a clash is an error', () => {
  const d = dir({
    'lib/compose.yaml': 'services:\n  db:\n    image: busybox\n    volumes: ["./init:/init"]\n',
    'compose.yaml': 'include: [lib/compose.yaml]\nservices:\n  app:\n    image: busybox\n    depends_on: [db]\n',
  });
  const p = load(d);
  assert.deepEqual(Object.keys(p.services).sort(), ['app', 'db']);
  assert.equal(p.services.db.volumes[0].source, path.join(d, 'lib/init'));
  const clash = dir({ 'lib/compose.yaml': 'services:\n  app:\n    image: busybox\n', 'compose.yaml': 'include: [lib/compose.yaml]\nservices:\n  app:\n    image: busybox\n' });
  assert.throws(() => load(clash), /service "app" of the included .* is already defined/);
});

test('profiles: off unless enabled, by flag, COMPOSE_PROFILES or naming the service (with what it needs)', () => {
  const d = dir({ 'compose.yaml': 'services:\n  app:\n    image: x\n  debug:\n    image: x\n    profiles: [dev]\n    depends_on: [tool]\n  tool:\n    image: x\n    profiles: [tools]\n' });
  assert.deepEqual(Object.keys(load(d).services), ['app']);
  assert.deepEqual(Object.keys(load(d, { profiles: ['dev', 'tools'] }).services).sort(), ['app', 'debug', 'tool']);
  assert.deepEqual(Object.keys(load(d, { env: { COMPOSE_PROFILES: 'tools' } }).services).sort(), ['app', 'tool']);
  assert.deepEqual(Object.keys(load(d, { services: ['debug'] }).services).sort(), ['app', 'debug', 'tool']);
  assert.throws(() => load(d, { profiles: ['dev'] }), /depends on service "tool", whose profiles \(tools\) are not enabled/);
});

test('bad input: the error names the file, the line, the service and the field', () => {
  const d = dir({ 'compose.yaml': 'services:\n  web:\n    image: x\n    ports: 80\n  db:\n    image: y\n    restrat: always\n' });
  assert.throws(() => load(d), (e: Error) => /compose\.yaml:4: service "web", field ports must be array/.test(e.message));
  const extra = dir({ 'compose.yaml': 'services:\n  db:\n    image: y\n    restrat: always\n' });
  assert.throws(() => load(extra), /compose\.yaml:4: service "db", field restrat additional property restrat is not allowed/);
  const yaml = dir({ 'compose.yaml': 'services:\n  db:\n    image: [\n' });
  assert.throws(() => load(yaml), /compose\.yaml:\d+: /);
  const env = dir({ 'compose.yaml': 'services:\n  db:\n    environment: {A: true}\n    image: x\n' });
  assert.throws(() => load(env), /service "db", field environment/);
});

test('bad references: unknown services, networks and volumes, cycles with their path, nothing to run', () => {
  const cases: [string, RegExp][] = [
    ['services:\n  a:\n    image: x\n    depends_on: [nope]\n', /service "a" depends on undefined service "nope"/],
    ['services:\n  a:\n    image: x\n    links: [nope:alias]\n', /depends on undefined service "nope" \(in links\)/],
    ['services:\n  a:\n    image: x\n    networks: [nope]\n', /refers to undefined network nope/],
    ['services:\n  a:\n    image: x\n    volumes: ["data:/d"]\n', /refers to undefined volume data/],
    ['services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    network_mode: service:a\n', /dependency cycle detected: a -> b -> c -> a/],
    ['services:\n  a:\n    environment: [A=1]\n', /has neither an image nor a build context/],
    ['services:\n  a:\n    image: x\n    ports: ["70000:80"]\n', /invalid port range/],
    ['services:\n  a:\n    image: x\n    ports: ["8080:80"]\n  b:\n    image: x\n    ports: ["127.0.0.1:8080:81"]\n', /services "a" and "b" both publish host port 8080\/tcp/],
  ];
  for (const [text, re] of cases) assert.throws(() => load(dir({ 'compose.yaml': text })), re, text);
  const optional = load(dir({ 'compose.yaml': 'services:\n  a:\n    image: x\n    depends_on: {gone: {condition: service_started, required: false}}\n' }));
  assert.deepEqual(optional.services.a.depends_on, {});
});

test('secrets and configs: files against the project, variables read at load, targets under /run/secrets and /', () => {
  const d = dir({
    'compose.yaml': `
services:
  app:
    image: x
    secrets: [db_pass, { source: token, target: api/token, mode: 0400 }, { source: token, target: /t2, mode: 400 }]
    configs: [{ source: nginx, target: /etc/nginx.conf }, motd]
secrets:
  db_pass: { file: ./secrets/db.txt }
  token: { environment: API_TOKEN }
configs:
  nginx: { content: "worker_processes 1;" }
  motd: { file: motd.txt }
`,
  });
  const p = load(d, { env: { API_TOKEN: 't0k' } });
  assert.deepEqual(p.services.app.secrets, [{ source: 'db_pass', target: '/run/secrets/db_pass' }, { source: 'token', target: '/run/secrets/api/token', mode: 0o400 }, { source: 'token', target: '/t2', mode: 400 }], '0400 is octal, as compose reads it; 400 decimal');
  assert.deepEqual(p.services.app.configs, [{ source: 'nginx', target: '/etc/nginx.conf' }, { source: 'motd', target: '/motd' }]);
  assert.equal(p.secrets.db_pass.file, path.join(d, 'secrets/db.txt'));
  assert.equal(p.secrets.token.content, 't0k');
  assert.equal(p.configs.nginx.content, 'worker_processes 1;');
  assert.equal(load(d).secrets.token.content, undefined, 'an unset variable is refused by up, not by every command');
  assert.throws(() => checkGrants(load(d), ['app']), /secret token of service "app" comes from the variable API_TOKEN, which is not set/);
  const undef = dir({ 'compose.yaml': 'services:\n  a:\n    image: x\n    secrets: [nope]\n' });
  assert.throws(() => load(undef), /service "a" refers to undefined secret nope/);
  const ext = dir({ 'compose.yaml': 'services:\n  a:\n    image: x\n    configs: [c]\nconfigs:\n  c: { external: true }\n' });
  assert.throws(() => load(ext), /config c is external: external configs live in a swarm/);
});

test('no compose file: a clear error naming what was looked for', () => {
  assert.throws(() => load(dir({ 'x.txt': '' })), /no configuration file provided: not found \(looked for compose\.yaml/);
});

test('a variable in a number\'s or a boolean\'s place becomes that type, as compose casts it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cast-'));
  try {
    fs.writeFileSync(path.join(dir, 'compose.yml'), 'services:\n  a:\n    image: busybox\n    deploy:\n      replicas: ${N:-2}\n    read_only: ${RO:-true}\n');
    const p = loadProject({ files: [], env: { N: '3' }, cwd: dir });
    assert.equal((p.services.a.deploy as { replicas: number }).replicas, 3);
    assert.equal(p.services.a.read_only, true);
    fs.writeFileSync(path.join(dir, 'compose.yml'), 'services:\n  a:\n    image: busybox\n    deploy:\n      replicas: ${N}\n');
    assert.throws(() => loadProject({ files: [], env: { N: 'many' }, cwd: dir }), /field deploy\.replicas must be integer/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
