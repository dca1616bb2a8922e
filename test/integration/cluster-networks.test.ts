import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { api, eventually } from './harness';
import { dockerOn as docker, Lab, type LabNode, spreadOf, taskContainers, total } from './lab';

/** A task's own address on its first network (busybox's `hostname -i` asks a resolver a static build may lack). */
const OWN_IP = "ip -o -4 addr show eth0 | awk '{print $4}' | cut -d/ -f1";

/** A compose file's `web` service: busybox httpd answering /i with its task's address (`$` doubled: compose interpolates). */
const webService = (replicas: string) => [
  '  web:',
  '    image: busybox',
  `    command: sh -c "${OWN_IP.replace(/\$/g, '$$$$')} > /tmp/i; exec httpd -f -p 80 -h /tmp"`,
  '    stop_grace_period: 1s',
  '    deploy:',
  `      replicas: ${replicas}`,
];

/**
 * Cluster networks in a lab of three nodes, driven by the docker CLI:
 * overlay networks made on the manager, tasks on three nodes reaching each
 * other by address and by service name over VXLAN, names and forwarding
 * following the tasks, `docker stack deploy|services|ps|rm`, host-mode
 * published ports and mounts. Each node is left with nothing of a network
 * once its last container on it has gone.
 */
describe('cluster networks in a three-node lab', { timeout: 600_000 }, () => {
  const lab = new Lab();
  before(async () => {
    await lab.up(3);
    const m = lab.nodes[0];
    await docker(m, ['swarm', 'init', '--advertise-addr', m.ip]);
    const token = await docker(m, ['swarm', 'join-token', '-q', 'worker']);
    const addr = await docker(m, ['node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}']);
    for (const n of lab.nodes.slice(1)) await docker(n, ['swarm', 'join', '--token', token, addr]);
  });
  after(() => lab.down());

  const manager = () => lab.nodes[0];
  const node = (name: string) => lab.nodes.find((n) => n.name === name)!;

  /** A command in a running task container of the service on its node; its output. */
  const inTask = async (service: string, script: string): Promise<string> => {
    const [where] = Object.keys(await spreadOf(manager(), service));
    const n = node(where);
    const [id] = await taskContainers(n, service);
    return docker(n, ['exec', id, 'sh', '-c', script]);
  };
  /** GET /i of a busybox httpd over nc (busybox-static's wget crashes in a static build's resolver). */
  const fetch = (host: string) => `printf 'GET /i HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} 80 | tail -1`;
  /** The addresses a name has, as a task of the service asks its resolver (the answers follow each `Name:` line). */
  const addressesOf = async (service: string, name: string) => (await inTask(service, `nslookup ${name} 2>/dev/null | awk '/^Name:/ {n = 1; next} n && /^Address/ {print $2; n = 0}'`)).split('\n').filter(Boolean).sort();
  /** This node's devices of cluster networks (bridges bo-*, VXLAN vx-*). */
  const overlayLinks = (n: LabNode) => spawnSync('ip', ['-n', n.netns, '-br', 'link'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => /^(bo|vx)-/.test(l));

  test('an overlay network is made on a manager, listed with swarm scope; bad requests are refused, nothing made', async () => {
    const id = await docker(manager(), ['network', 'create', '--driver', 'overlay', '--label', 'team=a', 'appnet']);
    assert.match(id, /^[a-z0-9]{25}$/);
    assert.match(await docker(manager(), ['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']), /^appnet overlay swarm$/m);
    const inspected = JSON.parse(await docker(manager(), ['network', 'inspect', 'appnet']))[0];
    assert.equal(inspected.IPAM.Config.length, 1);
    assert.match(inspected.IPAM.Config[0].Subnet, /^10\.\d+\.\d+\.0\/24$/);
    assert.deepEqual(inspected.Labels, { team: 'a' });
    const refused = async (n: LabNode, args: string[], message: RegExp) => {
      const r = await n.daemon.docker(args);
      assert.notEqual(r.code, 0, `${args.join(' ')} was taken`);
      assert.match(r.stderr, message);
    };
    await refused(manager(), ['network', 'create', '-d', 'overlay', 'appnet'], /network with name appnet already exists/);
    await refused(manager(), ['network', 'create', '-d', 'overlay', '--subnet', inspected.IPAM.Config[0].Subnet, 'clash'], /Pool overlaps/);
    await refused(manager(), ['network', 'create', '-d', 'overlay', '--attachable', 'att'], /attachable cluster networks .* not supported yet/);
    await refused(lab.nodes[1], ['network', 'create', '-d', 'overlay', 'onworker'], /not a swarm manager/);
    await refused(manager(), ['service', 'create', '--detach', '--name', 'lost', '--network', 'nosuch', '--no-resolve-image', 'busybox', 'true'], /No such network: nosuch|network nosuch not found/);
    await refused(manager(), ['service', 'create', '--detach', '--name', 'meshed', '--publish', '8080:80', '--no-resolve-image', 'busybox', 'true'], /routing mesh .* mode=host/);
    assert.equal(await docker(manager(), ['network', 'ls', '-q', '--filter', 'driver=overlay']), id.slice(0, 12));
    assert.equal(await docker(manager(), ['service', 'ls', '-q']), '');
  });

  test('tasks on three nodes reach each other by address and by service name; names and forwarding follow them as they scale', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'echo', '--network', 'appnet', '--replicas', '3', '--replicas-max-per-node', '1', '--stop-grace-period', '1s',
      '--no-resolve-image', 'busybox', 'sh', '-c', `${OWN_IP} > /tmp/i; exec httpd -f -p 80 -h /tmp`]);
    await docker(manager(), ['service', 'create', '--detach', '--name', 'client', '--network', 'name=appnet,alias=probe', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    await eventually(async () => total(await spreadOf(manager(), 'echo')) === 3 && total(await spreadOf(manager(), 'client')) === 1, 60_000);
    assert.deepEqual(await spreadOf(manager(), 'echo'), { node1: 1, node2: 1, node3: 1 });
    // Each task's address, as the cluster gave it (docker's NetworksAttachments).
    const tasks = JSON.parse(await docker(manager(), ['inspect', ...(await docker(manager(), ['service', 'ps', '-q', '--filter', 'desired-state=running', 'echo'])).split('\n')])) as { NetworksAttachments: { Network: { Spec: { Name: string } }; Addresses: string[] }[] }[];
    const ips = tasks.map((t) => t.NetworksAttachments.find((a) => a.Network.Spec.Name === 'appnet')!.Addresses[0].split('/')[0]).sort();
    assert.equal(new Set(ips).size, 3);
    // The service's name and tasks.NAME answer with every task's address; each address answers with itself, across nodes.
    await eventually(async () => JSON.stringify(await addressesOf('client', 'echo')) === JSON.stringify(ips), 30_000);
    assert.deepEqual(await addressesOf('client', 'tasks.echo'), ips);
    for (const ip of ips) assert.equal(await inTask('client', fetch(ip)), ip);
    // The answers come in a new order each time, so clients that take the first spread over the tasks
    // (a glibc client sorts them by prefix first, as it does under docker's dnsrr too). 12 shuffles of 3 all leading alike: 1 in 177,000.
    const firsts = new Set<string>();
    for (let i = 0; i < 12 && firsts.size < 2; i++) firsts.add((await inTask('client', 'nslookup echo 2>/dev/null | awk \'/^Name:/ {getline; print $2; exit}\'')).trim());
    assert.ok(firsts.size > 1, `the first answer was always ${[...firsts]}`);
    assert.ok(ips.includes(await inTask('client', fetch('echo'))));
    // Full-size frames cross (the overlay's MTU leaves room for VXLAN's headers), and the outside is reached.
    assert.match(await inTask('client', `ping -c1 -W2 -s 1422 ${ips[0]}`), /1 packets received/);
    assert.match(await inTask('client', `ping -c1 -W2 ${lab.gateway}`), /1 packets received/);
    // A container outside the services cannot join it where the node has it (docker's words).
    const clientNode = node(Object.keys(await spreadOf(manager(), 'client'))[0]);
    const joined = await api(clientNode.daemon, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'appnet' } });
    assert.equal(joined.status, 403, joined.body);
    assert.match(joined.body, /network appnet not manually attachable/);
    // An alias answers on the network too, from the other side.
    const clientIp = (await inTask('client', OWN_IP)).trim();
    assert.deepEqual(await addressesOf('echo', 'probe'), [clientIp]);
    // Scaled down: the names and each node's forwarding drop the tasks gone.
    await docker(manager(), ['service', 'scale', '--detach', 'echo=1']);
    await eventually(async () => total(await spreadOf(manager(), 'echo')) === 1, 60_000);
    const left = await eventually(async () => {
      const a = await addressesOf('client', 'echo');
      return a.length === 1 ? a : undefined;
    }, 30_000);
    assert.equal(await inTask('client', fetch('echo')), left![0]);
    await eventually(() => {
      const neigh = spawnSync('ip', ['-n', clientNode.netns, 'neigh', 'show', 'nud', 'permanent'], { encoding: 'utf8' }).stdout;
      return ips.filter((ip) => ip !== left![0]).every((ip) => !neigh.includes(`${ip} `));
    }, 30_000);
  });

  test('a name leads only to tasks that serve: not before their health check passes, not once it fails', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'gated', '--network', 'appnet', '--health-cmd', 'test -f /tmp/ready', '--health-interval', '500ms', '--health-retries', '1', '--health-start-period', '5m',
      '--restart-delay', '10s', '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    const where = await eventually(async () => {
      const ps = (await docker(manager(), ['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}', 'gated'])).split('\n');
      return ps[0]?.includes('Starting') ? ps[0].split(' ')[0] : undefined;
    }, 60_000);
    const n = node(where!);
    const id = await eventually(async () => (await taskContainers(n, 'gated'))[0], 30_000);
    const ip = (await docker(n, ['exec', id, 'sh', '-c', OWN_IP])).trim();
    assert.deepEqual(await addressesOf('client', 'gated'), [], 'a task still starting answers to its service\'s name');
    await docker(n, ['exec', id, 'touch', '/tmp/ready']);
    await eventually(async () => (await addressesOf('client', 'gated')).join() === ip, 30_000);
    // Unhealthy (past its start period: it was healthy once): the task fails and its address leaves the name.
    await docker(n, ['exec', id, 'rm', '/tmp/ready']);
    await eventually(async () => (await addressesOf('client', 'gated')).length === 0, 30_000);
    await docker(manager(), ['service', 'rm', 'gated']);
  });

  test('a network in use stays; once its services go, every node drops its part of it', async () => {
    const r = await manager().daemon.docker(['network', 'rm', 'appnet']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /network appnet is in use by service/);
    await docker(manager(), ['service', 'rm', 'echo', 'client']);
    await docker(manager(), ['network', 'rm', 'appnet']);
    for (const n of lab.nodes) await eventually(() => overlayLinks(n).length === 0, 30_000);
    for (const n of lab.nodes) assert.equal(await docker(n, ['network', 'ls', '-q', '--filter', 'driver=overlay']), '', `${n.name} still lists an overlay network`);
  });

  test('docker stack deploy: a compose file\'s services on the stack\'s network, found by their names, with its volume, secret and config; stack ls, services, ps and rm', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-stack-'));
    try {
      const file = path.join(dir, 'compose.yml');
      fs.writeFileSync(path.join(dir, 'token.txt'), 's3cret\n');
      fs.writeFileSync(path.join(dir, 'app.conf'), 'level=debug\n');
      fs.writeFileSync(file, [
        'version: "3.8"',
        'services:',
        ...webService('2'),
        '  client:',
        '    image: busybox',
        '    command: sleep 100000',
        '    stop_grace_period: 1s',
        '    volumes:',
        '      - data:/data',
        '    secrets:',
        '      - source: token',
        '        mode: 0400',
        '    configs:',
        '      - source: conf',
        '        target: /etc/app.conf',
        'volumes:',
        '  data:',
        'secrets:',
        '  token:',
        '    file: ./token.txt',
        'configs:',
        '  conf:',
        '    file: ./app.conf',
        '',
      ].join('\n'));
      const out = await docker(manager(), ['stack', 'deploy', '--resolve-image', 'never', '-c', file, 'shop']);
      assert.match(out, /Creating network shop_default/);
      assert.match(out, /Creating secret shop_token/);
      assert.match(out, /Creating config shop_conf/);
      assert.match(out, /Creating service shop_web/);
      assert.match(await docker(manager(), ['stack', 'ls', '--format', '{{.Name}} {{.Services}}']), /^shop 2$/m);
      await eventually(async () => total(await spreadOf(manager(), 'shop_web')) === 2 && total(await spreadOf(manager(), 'shop_client')) === 1, 60_000);
      assert.deepEqual((await docker(manager(), ['stack', 'services', '--format', '{{.Name}} {{.Replicas}}', 'shop'])).split('\n').sort(), ['shop_client 1/1', 'shop_web 2/2']);
      assert.equal((await docker(manager(), ['stack', 'ps', '--filter', 'desired-state=running', '-q', 'shop'])).split('\n').length, 3);
      // compose's service name answers on the stack's network (the alias docker's CLI asks for).
      const webIps = await eventually(async () => {
        const a = await addressesOf('shop_client', 'web');
        return a.length === 2 ? a : undefined;
      }, 30_000);
      assert.ok(webIps!.includes(await inTask('shop_client', fetch('web'))));
      // The named volume is made on the client's node, under the stack's name.
      const clientNode = node(Object.keys(await spreadOf(manager(), 'shop_client'))[0]);
      assert.match(await docker(clientNode, ['volume', 'ls', '--format', '{{.Name}}']), /^shop_data$/m);
      assert.equal(await inTask('shop_client', 'echo kept > /data/f && cat /data/f'), 'kept');
      // The secret and the config are files, read-only, with the mode asked (a secret's 0400) and the content given.
      assert.equal(await inTask('shop_client', 'cat /run/secrets/token; stat -c %a /run/secrets/token; cat /etc/app.conf; stat -c %a /etc/app.conf'), 's3cret\n400\nlevel=debug\n444');
      assert.match(await inTask('shop_client', '(echo x > /run/secrets/token) 2>&1; cat /run/secrets/token'), /Read-only file system\s+s3cret$/);
      // A secret's data is never shown back; a config's is. One in use stays.
      const secret = JSON.parse(await docker(manager(), ['secret', 'inspect', 'shop_token']))[0];
      assert.deepEqual(Object.keys(secret.Spec).sort(), ['Labels', 'Name']);
      assert.equal(Buffer.from(JSON.parse(await docker(manager(), ['config', 'inspect', 'shop_conf']))[0].Spec.Data, 'base64').toString(), 'level=debug\n');
      const inUse = await manager().daemon.docker(['secret', 'rm', 'shop_token']);
      assert.notEqual(inUse.code, 0);
      assert.match(inUse.stderr, /secret 'shop_token' is in use by the following service: shop_client/);
      // Berth's own commands list and make them as docker's do.
      assert.match(await manager().daemon.ok(['secret', 'ls', '--format', '{{.Name}}']), /^shop_token$/m);
      const made = await manager().daemon.berth(['secret', 'create', 'extra', '-'], { input: 'x' });
      assert.equal(made.code, 0, made.stderr);
      assert.equal(await docker(manager(), ['secret', 'ls', '-q', '--filter', 'name=extra']), made.stdout.trim());
      await docker(manager(), ['secret', 'rm', 'extra']);
      const rm = await docker(manager(), ['stack', 'rm', 'shop']);
      assert.match(rm, /Removing service shop_web/);
      assert.match(rm, /Removing network shop_default/);
      await eventually(async () => (await docker(manager(), ['service', 'ls', '-q'])) === '' && (await docker(manager(), ['network', 'ls', '-q', '--filter', 'driver=overlay'])) === '', 30_000);
      assert.equal(await docker(manager(), ['secret', 'ls', '-q']), '');
      assert.equal(await docker(manager(), ['config', 'ls', '-q']), '');
      for (const n of lab.nodes) await eventually(async () => (await taskContainers(n)).length === 0 && overlayLinks(n).length === 0, 30_000);
      // The tasks' files went with their containers.
      const filesOf = (n: LabNode) => (fs.existsSync(path.join(n.daemon.execRoot, 'task-files')) ? fs.readdirSync(path.join(n.daemon.execRoot, 'task-files')) : []);
      for (const n of lab.nodes) assert.deepEqual(filesOf(n), [], `${n.name}: task files left`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('berth stack deploy: the same kind of file through Berth\'s compose loader (interpolation, profiles), re-deployed as an update; ls, services, ps, rm', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-stack-'));
    try {
      const file = path.join(dir, 'compose.yml');
      fs.writeFileSync(file, [
        'services:',
        ...webService('${WEB_REPLICAS:-2}'),
        '  client:',
        '    image: busybox',
        '    command: sleep 100000',
        '    stop_grace_period: 1s',
        '  debug:',
        '    image: busybox',
        '    profiles: [debug]',
        '',
      ].join('\n'));
      const berth = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
        const r = await manager().daemon.berth(args, { env: { ...process.env, ...env } });
        assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        return r.stdout.trim();
      };
      const out = await berth(['stack', 'deploy', '-c', file, 'mall']);
      assert.match(out, /^Creating network mall_default$/m);
      assert.match(out, /^Creating service mall_web$/m);
      assert.doesNotMatch(out, /debug/, 'a service of a profile not enabled is not deployed');
      assert.match(await berth(['stack', 'ls']), /^mall\s+2$/m);
      await eventually(async () => total(await spreadOf(manager(), 'mall_web')) === 2 && total(await spreadOf(manager(), 'mall_client')) === 1, 60_000);
      await eventually(async () => (await addressesOf('mall_client', 'web')).length === 2, 30_000);
      // Deployed again with another value: the service is updated, not made twice.
      const again = await berth(['stack', 'deploy', '-c', file, 'mall'], { WEB_REPLICAS: '3' });
      assert.match(again, /^Updating service mall_web \(id: [a-z0-9]+\)$/m);
      await eventually(async () => total(await spreadOf(manager(), 'mall_web')) === 3, 60_000);
      assert.deepEqual((await berth(['stack', 'services', '--format', '{{.Name}} {{.Replicas}}', 'mall'])).split('\n').sort(), ['mall_client 1/1', 'mall_web 3/3']);
      assert.equal((await berth(['stack', 'ps', '-q', '--filter', 'desired-state=running', 'mall'])).split('\n').length, 4);
      // docker's CLI sees the same stack.
      assert.match(await docker(manager(), ['stack', 'ls', '--format', '{{.Name}} {{.Services}}']), /^mall 2$/m);
      const rm = await berth(['stack', 'rm', 'mall']);
      assert.match(rm, /Removing service mall_web/);
      assert.match(rm, /Removing network mall_default/);
      const none = await manager().daemon.berth(['stack', 'rm', 'mall']);
      assert.notEqual(none.code, 0);
      assert.match(none.stderr, /Nothing found in stack: mall/);
      for (const n of lab.nodes) await eventually(async () => (await taskContainers(n)).length === 0 && overlayLinks(n).length === 0, 30_000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('host-mode published ports: each node of a global service answers on its own address; a fixed port goes once per node', async () => {
    await docker(manager(), ['service', 'create', '--detach', '--name', 'edge', '--mode', 'global', '--publish', 'mode=host,published=8089,target=80', '--mount', 'type=tmpfs,target=/www',
      '--stop-grace-period', '1s', '--no-resolve-image', 'busybox', 'sh', '-c', 'hostname > /www/i; exec httpd -f -p 80 -h /www']);
    await eventually(async () => total(await spreadOf(manager(), 'edge')) === 3, 60_000);
    for (const n of lab.nodes) {
      const [id] = await taskContainers(n, 'edge');
      const hostname = await docker(n, ['exec', id, 'hostname']);
      assert.equal(await eventually(() => httpGet(n.ip, 8089), 15_000), hostname, `${n.name}:8089`);
      // The tmpfs mount is the container's own.
      assert.match(await docker(n, ['exec', id, 'sh', '-c', 'grep " /www " /proc/mounts']), /^tmpfs \/www tmpfs/);
    }
    // A replicated service on the same published port finds no node free of it, and says so.
    await docker(manager(), ['service', 'create', '--detach', '--name', 'clash', '--publish', 'mode=host,published=8089,target=80', '--no-resolve-image', 'busybox', 'sleep', '100000']);
    const why = await eventually(async () => {
      const err = await docker(manager(), ['service', 'ps', '--no-trunc', '--format', '{{.Error}}', 'clash']);
      return err.includes('host-mode port already in use on 3 nodes') ? err : undefined;
    }, 30_000);
    assert.ok(why);
    await docker(manager(), ['service', 'rm', 'edge', 'clash']);
    for (const n of lab.nodes) await eventually(async () => (await taskContainers(n)).length === 0, 30_000);
    for (const n of lab.nodes) assert.equal(await n.daemon.ok(['system', 'check']), 'No problems found.', `${n.name}: system check`);
  });
});

/** The last line of an HTTP/1.0 GET of /i over TCP (undefined while nothing answers). */
function httpGet(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const s = net.connect(port, host, () => s.end('GET /i HTTP/1.0\r\n\r\n'));
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (b) => (text += b));
    s.on('close', () => resolve(text.includes('200 OK') ? text.trim().split('\n').pop()!.trim() : undefined));
    s.on('error', () => resolve(undefined));
  });
}
