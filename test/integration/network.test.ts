import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as packet from 'dns-packet';
import { api, bridgePorts, eventually, exec, freeTestPrefix, linkExists, rulesMentioning, suiteDaemon, type TestDaemon } from './harness';
import { ipv6, rateLimitParts } from './host-offers';

/** Sends a line to host:port over TCP (the host's loopback) and returns what comes back. */
function talk(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

const HTTPD = ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'];

const inspect = async (d: TestDaemon, ref: string, format: string) => d.ok(['inspect', '-f', format, ref]);
const ipOn = (d: TestDaemon, ref: string, network: string) => inspect(d, ref, `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`);

/** Does `name` resolve from inside the container? Returns the address or ''. */
async function resolve(d: TestDaemon, from: string, name: string): Promise<string> {
  const r = await d.berth(['exec', from, 'nslookup', name]);
  return /Name:\s+\S+\s+Address:\s+(\d+\.\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? '';
}

async function pings(d: TestDaemon, from: string, ip: string): Promise<boolean> {
  return (await d.berth(['exec', from, 'ping', '-c', '1', '-W', '1', ip])).code === 0;
}

// The subnets tests name themselves, in a /16 no route of this host touches.
const prefix = freeTestPrefix();

describe('networks', () => {
  const d = suiteDaemon();

  test('the default bridge: an address, loopback up, NAT rules, and no name resolution', async () => {
    const a = await d.ok(['run', '-d', '--name', 'def-a', 'busybox', 'sleep', '1000']);
    const b = await d.ok(['run', '-d', '--name', 'def-b', 'busybox', 'sleep', '1000']);
    const subnet = (await d.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'bridge']));
    const ipA = await ipOn(d, a, 'bridge');
    assert.match(ipA, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(await inspect(d, a, '{{.NetworkSettings.IPAddress}}'), ipA, 'the default bridge fills the top-level address, as docker does');
    assert.ok(subnet.startsWith(ipA.split('.').slice(0, 2).join('.')), `${ipA} in ${subnet}`);
    assert.match(await d.ok(['exec', a, 'ip', 'addr', 'show', 'lo']), /inet 127\.0\.0\.1\/8/);
    assert.ok(await pings(d, b, ipA), 'containers on the bridge reach each other');
    assert.equal(await resolve(d, b, 'def-a'), '', 'the default bridge does not resolve names');
    assert.match(await d.ok(['exec', a, 'cat', '/etc/hosts']), new RegExp(`^${ipA.replace(/\./g, '\\.')}\\s`, 'm'));
    assert.equal(bridgePorts(d.bridge).length, 2, 'one veth per container on the bridge');
    assert.ok(rulesMentioning([d.bridge]).some((r) => /MASQUERADE/.test(r)), 'the bridge is masqueraded');
    // --network none: loopback only.
    const none = await d.ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'addr']);
    assert.match(none, /lo.*127\.0\.0\.1/);
    assert.doesNotMatch(none, /eth0/);
    await d.ok(['rm', '-f', a, b]);
    assert.equal(bridgePorts(d.bridge).length, 0, 'veths go with their containers');
  });

  test('user networks resolve names, aliases and short ids, and names follow containers', async () => {
    await d.ok(['network', 'create', 'app']);
    const db = await d.ok(['run', '-d', '--name', 'db', '--network', 'app', '--network-alias', 'database', '--network-alias', 'pg', 'busybox', 'sleep', '1000']);
    const web = await d.ok(['run', '-d', '--name', 'web', '--network', 'app', 'busybox', 'sleep', '1000']);
    const dbIp = await ipOn(d, db, 'app');
    for (const name of ['db', 'database', 'pg', db.slice(0, 12)]) assert.equal(await resolve(d, web, name), dbIp, `resolves ${name}`);
    assert.ok(await pings(d, web, 'db'));
    assert.match(await d.ok(['exec', web, 'cat', '/etc/resolv.conf']), /^nameserver \d+\.\d+\.\d+\.1$/m);
    // The name follows the container: gone with it, back with the next one of that name.
    await d.ok(['rm', '-f', db]);
    assert.equal(await resolve(d, web, 'db'), '');
    const db2 = await d.ok(['run', '-d', '--name', 'db', '--network', 'app', 'busybox', 'sleep', '1000']);
    assert.equal(await resolve(d, web, 'db'), await ipOn(d, db2, 'app'));
    // Restarted containers keep their names in DNS.
    await d.ok(['restart', '-t', '0', db2]);
    assert.equal(await resolve(d, web, 'db'), await ipOn(d, db2, 'app'));
    await d.ok(['rm', '-f', db2, web]);
    await d.ok(['network', 'rm', 'app']);
  });

  test('--dns on a user network: names of containers still resolve, other names go to the servers given', async () => {
    // A resolver on a loopback address of the host's, answering one name.
    const upstream = dgram.createSocket('udp4');
    const asked: string[] = [];
    upstream.on('message', (msg, from) => {
      const q = packet.decode(msg);
      const question = q.questions![0];
      asked.push(question.name);
      const known = question.name === 'elsewhere.example' && question.type === 'A';
      const answers: packet.Answer[] = known ? [{ type: 'A', name: question.name, ttl: 60, data: '10.9.8.7' }] : [];
      upstream.send(packet.encode({ id: q.id, type: 'response', flags: packet.RECURSION_AVAILABLE | (known ? 0 : 3), questions: q.questions, answers }), from.port, from.address);
    });
    await new Promise<void>((r) => upstream.bind(53, '127.0.0.77', r));
    try {
      await d.ok(['network', 'create', 'dnsnet']);
      const a = await d.ok(['run', '-d', '--network', 'dnsnet', '--dns', '127.0.0.77', '--dns-search', 'x.test', 'busybox', 'sleep', '1000']);
      const b = await d.ok(['run', '-d', '--name', 'peer', '--network', 'dnsnet', 'busybox', 'sleep', '1000']);
      assert.match(await d.ok(['exec', a, 'cat', '/etc/resolv.conf']), /^nameserver \d+\.\d+\.\d+\.1\nsearch x\.test$/m);
      // Absolute: busybox's nslookup tries the search domain first and stops at its NXDOMAIN.
      assert.equal(await resolve(d, a, 'peer.'), await ipOn(d, b, 'dnsnet'));
      assert.equal(await resolve(d, a, 'elsewhere.example'), '10.9.8.7');
      assert.ok(asked.includes('elsewhere.example'), `the upstream was asked: ${asked.join(', ')}`);
      await d.ok(['rm', '-f', a, b]);
      await d.ok(['network', 'rm', 'dnsnet']);
    } finally {
      upstream.close();
    }
  });

  test('published ports: fixed, random, -P, port; from the host loopback and from other containers', async () => {
    const fixed = 20000 + Math.floor(Math.random() * 20000);
    const a = await d.ok(['run', '-d', '--name', 'pub-a', '-p', `${fixed}:80`, '-p', '127.0.0.1::80', 'busybox', ...HTTPD]);
    const b = await d.ok(['run', '-d', '--name', 'pub-b', '--expose', '80', '--expose', '81/udp', '-P', 'busybox', ...HTTPD]);
    const hostnameA = await inspect(d, a, '{{.Config.Hostname}}');
    // Once httpd listens in the container, the published port answers with its page.
    await eventually(async () => (await d.ok(['exec', a, 'netstat', '-ltn'])).includes(':80 '));
    assert.match(await talk(fixed), new RegExp(hostnameA));
    const ports = await d.ok(['port', a]);
    const random = Number(/80\/tcp -> 127\.0\.0\.1:(\d+)/.exec(ports)?.[1]);
    assert.ok(random > 0 && random !== fixed, ports);
    assert.match(ports, new RegExp(`80/tcp -> 0\\.0\\.0\\.0:${fixed}`));
    assert.match(await talk(random), new RegExp(hostnameA));
    const bTcp = Number((await d.ok(['port', b, '80'])).split(':')[1]);
    assert.match(await talk(bTcp), new RegExp(await inspect(d, b, '{{.Config.Hostname}}')));
    assert.match(await d.ok(['port', b, '81/udp']), /^0\.0\.0\.0:\d+$/);
    assert.match(await d.ok(['ps', '--filter', `id=${a}`, '--format', '{{.Ports}}']), new RegExp(`0\\.0\\.0\\.0:${fixed}->80/tcp`));
    // From another container, through the host's address on its bridge.
    const gw = await d.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge']);
    const viaOther = await d.ok(['run', '--rm', 'busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc ${gw} ${fixed}`]);
    assert.match(viaOther, new RegExp(hostnameA));
    // A taken port: a clear error, and the container is left created (as docker), holding nothing.
    const clash = await d.berth(['run', '-d', '--name', 'pub-clash', '-p', `${fixed}:80`, 'busybox', ...HTTPD]);
    assert.notEqual(clash.code, 0);
    assert.match(clash.stderr, new RegExp(`Bind for 0\\.0\\.0\\.0:${fixed} failed: port is already allocated`));
    assert.equal(await inspect(d, 'pub-clash', '{{.State.Status}}'), 'created');
    // A port a host program listens on is taken too.
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const busy = (server.address() as net.AddressInfo).port;
    const taken = await d.berth(['run', '-d', '-p', `127.0.0.1:${busy}:80`, 'busybox', 'true']);
    server.close();
    assert.match(taken.stderr, /port is already allocated/);
    await d.ok(['rm', '-f', a, b, 'pub-clash']);
    await assert.rejects(talk(fixed), 'the mapping goes with the container');
    assert.deepEqual(rulesMentioning([`${fixed}`]), []);
  });

  test('a static --ip is kept across restarts; addresses outside the subnet or taken are refused', async () => {
    await d.ok(['network', 'create', '--subnet', `${prefix}.7.0/24`, '--gateway', `${prefix}.7.254`, '--ip-range', `${prefix}.7.128/25`, 'fixed']);
    const s = await d.ok(['run', '-d', '--network', 'fixed', '--ip', `${prefix}.7.10`, 'busybox', 'sleep', '1000']);
    assert.equal(await ipOn(d, s, 'fixed'), `${prefix}.7.10`);
    await d.ok(['restart', '-t', '0', s]);
    assert.equal(await ipOn(d, s, 'fixed'), `${prefix}.7.10`);
    // The test's own /16 (the first free one of this host), not one it assumes.
    const esc = prefix.replace(/\./g, '\\.');
    assert.match(await d.ok(['exec', s, 'ip', 'route']), new RegExp(`default via ${esc}\\.7\\.254`));
    // Dynamic addresses come from the ip-range.
    const dyn = await d.ok(['run', '-d', '--network', 'fixed', 'busybox', 'sleep', '1000']);
    assert.ok(Number((await ipOn(d, dyn, 'fixed')).split('.')[3]) >= 128);
    const outside = await d.berth(['run', '-d', '--network', 'fixed', '--ip', `${prefix}.8.3`, 'busybox', 'true']);
    assert.equal(outside.code, 125);
    assert.match(outside.stderr, new RegExp(`not in the subnet ${esc}\\.7\\.0/24`));
    const again = await d.berth(['run', '-d', '--name', 'ip-dup', '--network', 'fixed', '--ip', `${prefix}.7.10`, 'busybox', 'sleep', '1000']);
    assert.match(again.stderr, /Address already in use/);
    const onDefault = await api(d, 'POST', '/containers/create', { Image: 'busybox', NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } } });
    assert.equal(onDefault.status, 400);
    await d.ok(['rm', '-f', s, dyn, 'ip-dup']);
    await d.ok(['network', 'rm', 'fixed']);
  });

  test('networks are isolated from each other; internal networks have no way out', async () => {
    await d.ok(['network', 'create', 'iso1']);
    await d.ok(['network', 'create', 'iso2']);
    await d.ok(['network', 'create', '--internal', 'inner']);
    const a = await d.ok(['run', '-d', '--network', 'iso1', 'busybox', 'sleep', '1000']);
    const a2 = await d.ok(['run', '-d', '--network', 'iso1', 'busybox', 'sleep', '1000']);
    const b = await d.ok(['run', '-d', '--network', 'iso2', 'busybox', 'sleep', '1000']);
    const i = await d.ok(['run', '-d', '--name', 'in-a', '--network', 'inner', 'busybox', 'sleep', '1000']);
    const i2 = await d.ok(['run', '-d', '--network', 'inner', 'busybox', 'sleep', '1000']);
    assert.ok(await pings(d, a, await ipOn(d, a2, 'iso1')), 'same network: reachable');
    assert.ok(!(await pings(d, a, await ipOn(d, b, 'iso2'))), 'iso1 cannot reach iso2');
    assert.ok(!(await pings(d, b, await ipOn(d, a, 'iso1'))), 'iso2 cannot reach iso1');
    assert.ok(!(await pings(d, a, await ipOn(d, i, 'inner'))), 'nothing reaches an internal network');
    assert.ok(await pings(d, i2, 'in-a'), 'inside an internal network: reachable, by name');
    assert.doesNotMatch(await d.ok(['exec', i, 'ip', 'route']), /default/);
    assert.ok(!(await pings(d, i, await ipOn(d, a, 'iso1'))), 'an internal network has no way out');
    await d.ok(['rm', '-f', a, a2, b, i, i2]);
    for (const n of ['iso1', 'iso2', 'inner']) await d.ok(['network', 'rm', n]);
  });

  test('connect and disconnect a running container, with aliases', async () => {
    await d.ok(['network', 'create', 'front']);
    await d.ok(['network', 'create', 'back']);
    const c = await d.ok(['run', '-d', '--name', 'multi', '--network', 'front', 'busybox', 'sleep', '1000']);
    const peer = await d.ok(['run', '-d', '--network', 'back', 'busybox', 'sleep', '1000']);
    assert.equal(await resolve(d, peer, 'multi'), '');
    await d.ok(['network', 'connect', '--alias', 'api', 'back', c]);
    const backIp = await ipOn(d, c, 'back');
    assert.match(await d.ok(['exec', c, 'ip', '-o', 'addr']), new RegExp(`eth1.*${backIp.replace(/\./g, '\\.')}`));
    assert.equal(await resolve(d, peer, 'api'), backIp);
    assert.equal(await resolve(d, peer, 'multi'), backIp);
    assert.ok(await pings(d, peer, 'api'));
    const inspected = JSON.parse(await d.ok(['network', 'inspect', 'back']))[0];
    assert.ok(inspected.Containers[c], 'network inspect lists the container');
    const dup = await d.berth(['network', 'connect', 'back', c]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /endpoint with name \S+ already exists in network back/);
    await d.ok(['network', 'disconnect', 'back', c]);
    assert.doesNotMatch(await d.ok(['exec', c, 'ip', '-o', 'addr']), /eth1/);
    assert.equal(await resolve(d, peer, 'api'), '');
    // A stopped container is connected for its next start.
    await d.ok(['stop', '-t', '0', c]);
    await d.ok(['network', 'connect', 'back', c]);
    await d.ok(['start', c]);
    assert.ok(await ipOn(d, c, 'back'));
    // Off every network (compose disconnects and connects again to set aliases): the mode stays, loopback only.
    await d.ok(['stop', '-t', '0', c]);
    await d.ok(['network', 'disconnect', 'front', c]);
    await d.ok(['network', 'disconnect', 'back', c]);
    assert.equal(await inspect(d, c, '{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}'), 'front 0');
    await d.ok(['start', c]);
    assert.deepEqual((await d.ok(['exec', c, 'ls', '/sys/class/net'])).split('\n'), ['lo']);
    await d.ok(['network', 'connect', 'front', c]);
    assert.ok(await ipOn(d, c, 'front'));
    const none = await d.ok(['create', '--network', 'none', 'busybox', 'true']);
    assert.match((await d.berth(['network', 'connect', 'front', none])).stderr, /private \(none\) mode/);
    await d.ok(['rm', '-f', c, peer, none]);
    await d.ok(['network', 'rm', 'front', 'back']);
  });

  test('rate limits are enforced (measured with iperf3) and changed by update', async (t) => {
    if (!fs.existsSync('/usr/bin/iperf3')) return t.skip('iperf3 is not installed (scripts/setup installs it)');
    const tar = path.join(d.dir, 'iperf.tar');
    const r = await exec(path.resolve(__dirname, '../../../scripts/busybox-rootfs'), [tar, '/usr/bin/iperf3']);
    assert.equal(r.code, 0, r.stderr);
    await d.ok(['import', tar, 'iperf:test']);
    await d.ok(['network', 'create', 'bw']);
    await d.ok(['run', '-d', '--name', 'iperf-server', '--network', 'bw', 'iperf:test', 'iperf3', '-s']);
    const started = await d.berth(['run', '-d', '--network', 'bw', '--network-egress-rate', '20mbit', '--network-ingress-rate', '30mbit', 'iperf:test', 'sleep', '1000']);
    assert.equal(started.code, 0, started.stderr);
    const c = started.stdout.trim();
    if (!rateLimitParts()) {
      // A kernel without tbf or ifb: both rates discarded with a warning, the container runs unlimited.
      assert.equal(started.stderr.split('\n').filter((l) => /^WARNING: Your kernel does not support network (ingress|egress) rate limits/.test(l)).length, 2, started.stderr);
      assert.equal(await inspect(d, c, '{{.HostConfig.NetworkIngressRate}} {{.HostConfig.NetworkEgressRate}}'), '0 0');
      await d.ok(['rm', '-f', c, 'iperf-server']);
      await d.ok(['network', 'rm', 'bw']);
      await d.ok(['rmi', 'iperf:test']);
      return;
    }
    await eventually(async () => (await d.ok(['exec', 'iperf-server', 'netstat', '-ltn'])).includes(':5201 '));
    const rate = async (reverse: boolean) => {
      const out = await d.ok(['exec', c, 'iperf3', '-c', 'iperf-server', '-t', '3', '-J', ...(reverse ? ['-R'] : [])]);
      return JSON.parse(out).end.sum_received.bits_per_second as number;
    };
    const within = (got: number, want: number) => assert.ok(Math.abs(got - want) / want <= 0.2, `${(got / 1e6).toFixed(1)} Mbit/s against ${want / 1e6} Mbit/s`);
    within(await rate(false), 20e6);
    within(await rate(true), 30e6);
    await d.ok(['update', '--network-egress-rate', '50mbit', c]);
    within(await rate(false), 50e6);
    await d.ok(['update', '--network-egress-rate', '0bit', c]);
    assert.ok((await rate(false)) > 200e6, 'without a limit, far above the old one');
    assert.equal(await inspect(d, c, '{{.HostConfig.NetworkIngressRate}}'), '30000000');
    const bad = await d.berth(['run', '--network-egress-rate', '10m', 'busybox', 'true']);
    assert.match(bad.stderr, /10mbit/);
    await d.ok(['rm', '-f', c, 'iperf-server']);
    await d.ok(['network', 'rm', 'bw']);
    await d.ok(['rmi', 'iperf:test']);
  });

  test("legacy --link on the default bridge: docker's variables and hosts line, the link kept as docker keeps it and removed by rm --link", async () => {
    await d.ok(['run', '-d', '--name', 'link-db', '--expose', '5432', '-e', 'PGVER=15', 'busybox', 'sleep', '1000']);
    const ip = await ipOn(d, 'link-db', 'bridge');
    const id = (await d.ok(['inspect', '-f', '{{.Id}}', 'link-db'])).slice(0, 12);
    const seen = await d.ok(['run', '--rm', '--name', 'link-app', '--link', 'link-db:db', 'busybox', 'sh', '-c', 'env | grep ^DB_ | sort; grep -w db /etc/hosts']);
    assert.deepEqual(seen.split('\n'), [
      'DB_ENV_PGVER=15', 'DB_NAME=/link-app/db', `DB_PORT=tcp://${ip}:5432`, `DB_PORT_5432_TCP=tcp://${ip}:5432`, `DB_PORT_5432_TCP_ADDR=${ip}`,
      'DB_PORT_5432_TCP_PORT=5432', 'DB_PORT_5432_TCP_PROTO=tcp', `${ip}\tdb ${id} link-db`,
    ]);
    await d.ok(['create', '--name', 'link-later', '--link', 'link-db:db', 'busybox', 'true']);
    assert.equal(await inspect(d, 'link-later', '{{json .HostConfig.Links}}'), '["/link-db:/link-later/db"]');
    const rm = await d.docker(['rm', '--link', '/link-later/db']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await inspect(d, 'link-later', '{{json .HostConfig.Links}}'), 'null');
    assert.match((await d.berth(['run', '--rm', '--link', 'nosuch:x', 'busybox', 'true'])).stderr, /could not get container for nosuch/);
    await d.ok(['stop', '-t', '0', 'link-db']);
    assert.match((await d.berth(['run', '--rm', '--link', 'link-db:db', 'busybox', 'true'])).stderr, /Cannot link to a non running container: \/link-db AS \/\S+\/db/);
    await d.ok(['rm', '-f', 'link-db', 'link-later']);
  });

  test('legacy --link on a user network: the alias resolves in DNS for the linking container only (berth, and the docker CLI through endpoint Links)', async () => {
    await d.ok(['network', 'create', '--subnet', `${prefix}.12.0/24`, 'linknet']);
    await d.ok(['run', '-d', '--name', 'ulink-db', '--network', 'linknet', 'busybox', 'sleep', '1000']);
    const ip = await ipOn(d, 'ulink-db', 'linknet');
    const resolve = (args: string[]) => ['run', '--rm', '--network', 'linknet', ...args, 'busybox', 'sh', '-c', 'nslookup db 2>&1 | grep -A1 "^Name:" | tail -1 || true'];
    assert.equal(await d.ok(resolve(['--link', 'ulink-db:db'])), `Address: ${ip}`);
    const viaDocker = await d.docker(resolve(['--link', 'ulink-db:db']));
    assert.equal(viaDocker.code, 0, viaDocker.stderr);
    assert.equal(viaDocker.stdout.trim(), `Address: ${ip}`);
    assert.equal(await d.ok(resolve([])), '', 'without the link, db is no name');
    await d.ok(['rm', '-f', 'ulink-db']);
    await d.ok(['network', 'rm', 'linknet']);
  });

  test('IPv6: a dual-stack network (--ipv6 --subnet), addresses, AAAA names, --ip6, ports published on IPv6 too; refused where the host has no IPv6', async () => {
    // A unique-local prefix of this run's own, so parallel daemons never meet.
    const v6 = `fd${Math.floor(Math.random() * 256).toString(16).padStart(2, '0')}:${process.pid.toString(16)}:${Math.floor(Math.random() * 65536).toString(16)}::`;
    if (!ipv6()) {
      const r = await d.berth(['network', 'create', '--ipv6', '--subnet', `${v6}/64`, 'v6net']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /IPv6 is disabled on this host/);
      return;
    }
    const created = await d.docker(['network', 'create', '--ipv6', '--subnet', `${v6}/64`, 'v6net']);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(await d.ok(['network', 'inspect', '-f', '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}}={{.Gateway}} {{end}}', 'v6net']), `true ${await d.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}={{(index .IPAM.Config 0).Gateway}}', 'v6net'])} ${v6}/64=${v6}1`);
    assert.match(await d.ok(['network', 'ls', '--filter', 'name=v6net', '--format', '{{.Name}} {{.IPv6}}']), /^v6net true$/m);
    const bridge = `br-${(await d.ok(['network', 'inspect', '-f', '{{.Id}}', 'v6net'])).slice(0, 12)}`;
    const v6rules = rulesMentioning([bridge]).filter((r) => r.startsWith('ip6tables '));
    assert.ok(v6rules.some((r) => /BERTH-ISOLATION /.test(r)) && v6rules.some((r) => new RegExp(`-s ${v6}/64 .*MASQUERADE`).test(r)), `isolation and masquerading in ip6tables too: ${v6rules.join('; ')}`);
    await d.ok(['run', '-d', '--name', 'v6web', '--network', 'v6net', '-p', '80', 'busybox', ...HTTPD]);
    await d.ok(['run', '-d', '--name', 'v6fixed', '--network', 'v6net', '--ip6', `${v6}99`, 'busybox', 'sleep', '1000']);
    const [addr, len, gw] = (await inspect(d, 'v6web', '{{with .NetworkSettings.Networks.v6net}}{{.GlobalIPv6Address}} {{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}')).split(' ');
    assert.ok(addr.startsWith(v6) && addr !== `${v6}1`, addr);
    assert.deepEqual([len, gw], ['64', `${v6}1`]);
    assert.equal(await inspect(d, 'v6fixed', '{{.NetworkSettings.Networks.v6net.GlobalIPv6Address}}'), `${v6}99`);
    assert.match(await d.ok(['network', 'inspect', '-f', '{{json .Containers}}', 'v6net']), new RegExp(`"IPv6Address":"${addr.replace(/\./g, '\\.')}/64"`));
    // Inside: the address on eth0, the AAAA answer of the network's DNS, /etc/hosts, and a connection over IPv6.
    const inside = await d.ok(['exec', 'v6fixed', 'sh', '-c', 'ip -6 -o addr show eth0 scope global | grep -o "inet6 [^ ]*"; nslookup -type=AAAA v6web | grep -A1 "^Name:" | tail -1; grep -c "^' + v6 + '99" /etc/hosts; wget -q -O- "http://[' + addr + ']/"']);
    const webId = (await inspect(d, 'v6web', '{{.Id}}')).slice(0, 12);
    assert.equal(inside, `inet6 ${v6}99/64\nAddress: ${addr}\n1\n${webId}`);
    // Published: on IPv4 and, to the host's IPv6 addresses (here the bridge's), on IPv6; shown as docker shows both.
    const ports = (await d.ok(['port', 'v6web', '80'])).split('\n');
    const hostPort = Number(ports[0].split(':').pop());
    assert.deepEqual(ports, [`0.0.0.0:${hostPort}`, `:::${hostPort}`]);
    assert.match(await talk(hostPort), new RegExp(webId));
    assert.match(await talk(hostPort, `${v6}1`), new RegExp(webId));
    // Bad input: each refused, saying why, and nothing made.
    const cases: [string[], RegExp][] = [
      [['network', 'create', '--ipv6', 'v6bad'], /an IPv6 network needs an IPv6 subnet/],
      [['network', 'create', '--subnet', 'fd00:dead::/64', 'v6bad'], /an IPv6 subnet \(fd00:dead::\/64\) needs --ipv6/],
      [['network', 'create', '--ipv6', '--subnet', `${v6}1/64`, 'v6bad'], /invalid subnet .*: it should be .*\/64/],
      [['network', 'create', '--ipv6', '--subnet', `${v6.slice(0, -1)}0:8000::/65`, 'v6bad'], /Pool overlaps with other one on this address space \(network v6net/],
      [['run', '--rm', '--network', 'v6net', '--ip6', 'fd00:dead::1', 'busybox', 'true'], /Address fd00:dead::1 is not in the subnet/],
      [['run', '--rm', '--network', 'bridge', '--ip6', `${v6}5`, 'busybox', 'true'], /--ip, --ip6 and --network-alias need a user-defined network/],
    ];
    for (const [args, re] of cases) {
      const r = await d.berth(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
    const viaDocker = await d.docker(['run', '--rm', '--network', 'bridge', '--ip6', `${v6}5`, 'busybox', 'true']);
    assert.notEqual(viaDocker.code, 0);
    assert.match(viaDocker.stderr, /user specified IP address is supported on user defined networks only/);
    assert.equal(await d.ok(['network', 'ls', '-q', '--filter', 'name=v6bad']), '');
    const ids = [await inspect(d, 'v6web', '{{.Id}}'), await inspect(d, 'v6fixed', '{{.Id}}')];
    await d.ok(['rm', '-f', 'v6web', 'v6fixed']);
    await d.ok(['network', 'rm', 'v6net']);
    const nat6 = (await exec('ip6tables', ['-t', 'nat', '-S'])).stdout;
    for (const id of ids) assert.ok(!nat6.includes(id), 'no IPv6 port rule is left');
    assert.deepEqual(rulesMentioning([bridge]), [], 'no rule of the network is left, in either family');
  });

  test("the host repairs what others break: after iptables -F, iptables -t nat -F or an older iptables-restore, isolation, NAT and published ports come back, the containers untouched", async () => {
    // The whole host's firewall is flushed here: it is saved first and put back as it was at the end.
    const hostSave = (await exec('iptables-save', [])).stdout;
    const olderSave = path.join(d.dir, 'older.rules');
    fs.writeFileSync(olderSave, hostSave);
    try {
      await d.ok(['network', 'create', '--subnet', `${prefix}.13.0/24`, 'fw-a']);
      await d.ok(['network', 'create', '--subnet', `${prefix}.14.0/24`, 'fw-b']);
      await d.ok(['run', '-d', '--name', 'fw-web', '--network', 'fw-a', '-p', '80', 'busybox', ...HTTPD]);
      await d.ok(['run', '-d', '--name', 'fw-other', '--network', 'fw-b', 'busybox', 'sleep', '1000']);
      const port = Number((await d.ok(['port', 'fw-web', '80'])).split('\n')[0].split(':').pop());
      const web = await ipOn(d, 'fw-web', 'fw-a');
      const startedAt = await inspect(d, 'fw-web', '{{.State.StartedAt}}');
      const published = async () => (await talk(port).catch(() => '')).includes('200 OK');
      const isolated = async () => (await d.berth(['exec', 'fw-other', 'wget', '-q', '-T', '1', '-O', '-', `http://${web}/`])).code !== 0;
      const masquerades = () => rulesMentioning([`${prefix}.13.0/24`]).some((r) => /MASQUERADE/.test(r));
      assert.ok((await published()) && (await isolated()) && masquerades(), 'all in place before');
      const breakers: [string, string[]][] = [
        ['iptables -F', ['iptables', '-w', '-F']],
        ['iptables -t nat -F', ['iptables', '-w', '-t', 'nat', '-F']],
        ['iptables-restore of a save from before the networks', ['sh', '-c', `iptables-restore < ${olderSave}`]],
      ];
      for (const [what, argv] of breakers) {
        assert.equal((await exec(argv[0], argv.slice(1))).code, 0, what);
        await eventually(async () => (await published()) && (await isolated()) && masquerades(), 10_000).catch(() => assert.fail(`not repaired after ${what}`));
      }
      assert.equal(await inspect(d, 'fw-web', '{{.State.StartedAt}} {{.RestartCount}}'), `${startedAt} 0`, 'the containers were not restarted');
      assert.match(d.log, /firewall rules someone else removed were put back/);
      await d.ok(['rm', '-f', 'fw-web', 'fw-other']);
      await d.ok(['network', 'rm', 'fw-a', 'fw-b']);
    } finally {
      // What the flushes took from others (other daemons', docker's) comes back as it was.
      await exec('sh', ['-c', `iptables-restore < ${olderSave}`]);
    }
  });

  test('--mac-address names the first network\'s interface address, shown by inspect; a bad one is refused', async () => {
    const id = await d.ok(['run', '-d', '--mac-address', '02:42:ac:11:00:99', 'busybox', 'sleep', '1000']);
    assert.equal(await d.ok(['exec', id, 'cat', '/sys/class/net/eth0/address']), '02:42:ac:11:00:99');
    assert.equal(await inspect(d, id, '{{.NetworkSettings.MacAddress}} {{.Config.MacAddress}}'), '02:42:ac:11:00:99 02:42:ac:11:00:99');
    await d.ok(['rm', '-f', id]);
    for (const bad of ['zz', '01:00:00:00:00:01']) {
      const r = await d.berth(['run', '--rm', '--mac-address', bad, 'busybox', 'true']);
      assert.equal(r.code, 125, bad);
      assert.match(r.stderr, /invalid MAC address/);
    }
  });

  test('bad input: clear errors and nothing half-made', async () => {
    await d.ok(['network', 'create', '--subnet', `${prefix}.9.0/24`, 'taken']);
    const overlap = await d.berth(['network', 'create', '--subnet', `${prefix}.9.128/25`, 'over']);
    assert.notEqual(overlap.code, 0);
    assert.match(overlap.stderr, /overlaps/);
    assert.equal((await api(d, 'POST', '/networks/create', { Name: 'over', IPAM: { Config: [{ Subnet: `${prefix}.9.0/25` }] } })).status, 403);
    assert.equal((await api(d, 'POST', '/networks/create', { Name: 'taken' })).status, 409);
    assert.equal((await api(d, 'POST', '/networks/create', { Name: 'gw', IPAM: { Config: [{ Subnet: `${prefix}.10.0/24`, Gateway: `${prefix}.11.1` }] } })).status, 400);
    assert.equal((await api(d, 'POST', '/networks/create', { Name: 'bad/name' })).status, 400);
    // An overlay network is a cluster's: outside one, dockerd's 503 and words.
    const overlay = await api(d, 'POST', '/networks/create', { Name: 'x', Driver: 'overlay' });
    assert.equal(overlay.status, 503);
    assert.match(overlay.body, /This node is not a swarm manager/);
    assert.equal((await api(d, 'POST', '/networks/create', { Name: 'x', Driver: 'macvlan' })).status, 404);
    const unknown = await d.berth(['run', '--network', 'nosuchnet', 'busybox', 'true']);
    assert.equal(unknown.code, 125);
    assert.match(unknown.stderr, /network nosuchnet not found/);
    assert.equal((await api(d, 'GET', '/networks/nosuchnet')).status, 404);
    const c = await d.ok(['run', '-d', '--network', 'taken', 'busybox', 'sleep', '1000']);
    const busy = await api(d, 'DELETE', '/networks/taken');
    assert.equal(busy.status, 403);
    assert.match(busy.body, /has active endpoints/);
    assert.equal((await api(d, 'DELETE', '/networks/bridge')).status, 403);
    assert.doesNotMatch(await d.ok(['network', 'ls', '--format', '{{.Name}}']), /over|gw/);
    await d.ok(['rm', '-f', c]);
    // prune removes networks no container names, and keeps the predefined ones.
    await d.ok(['network', 'create', 'unused']);
    assert.match(await d.ok(['network', 'prune', '-f']), /taken[\s\S]*unused|unused[\s\S]*taken/);
    assert.deepEqual((await d.ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').sort(), ['bridge', 'host', 'none']);
  });

  test('container:<name> shares a namespace; host mode uses the host', async () => {
    const a = await d.ok(['run', '-d', '--name', 'share-a', 'busybox', 'sleep', '1000']);
    const ipA = await ipOn(d, a, 'bridge');
    assert.match(await d.ok(['run', '--rm', '--network', 'container:share-a', 'busybox', 'ip', '-o', 'addr']), new RegExp(ipA.replace(/\./g, '\\.')));
    const hostLinks = await d.ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
    assert.match(hostLinks, new RegExp(d.bridge));
    await d.ok(['rm', '-f', a]);
  });

  test('after a daemon SIGKILL: addresses kept, no rule doubled, leases of containers that died meanwhile freed', async () => {
    await d.ok(['network', 'create', 'crash']);
    const keep = await d.ok(['run', '-d', '--name', 'keeper', '--network', 'crash', '-p', '80', 'busybox', ...HTTPD]);
    const dies = await d.ok(['run', '-d', '--network', 'crash', 'busybox', 'sleep', '1000']);
    const peer = await d.ok(['run', '-d', '--network', 'crash', 'busybox', 'sleep', '1000']);
    const ip = await ipOn(d, keep, 'crash');
    const port = Number((await d.ok(['port', keep, '80'])).split(':')[1]);
    const rulesBefore = (await exec('iptables-save', [])).stdout.split('\n').filter((l) => l.startsWith('-A')).sort();
    await d.kill();
    // A container dies while no daemon watches.
    const pid = Number(JSON.parse(fs.readFileSync(path.join(d.dataRoot, 'containers', dies, 'container.json'), 'utf8')).State.Pid);
    process.kill(pid, 'SIGKILL');
    await d.start();
    assert.equal(await inspect(d, dies, '{{.State.Running}}'), 'false');
    assert.equal(await ipOn(d, keep, 'crash'), ip);
    assert.equal(await resolve(d, peer, 'keeper'), ip);
    assert.match(await talk(port), /HTTP/);
    const leases = fs.readdirSync(path.join(d.execRoot, 'networks', 'ipam', JSON.parse(await d.ok(['network', 'inspect', 'crash']))[0].Id)).filter((f) => /^\d/.test(f));
    assert.equal(leases.length, 2, `leases: ${leases}`);
    const rulesAfter = (await exec('iptables-save', [])).stdout.split('\n').filter((l) => l.startsWith('-A')).sort();
    assert.deepEqual(rulesAfter.filter((l) => !rulesBefore.includes(l)), [], 'no rule added by the restart');
    assert.deepEqual(rulesBefore.filter((l) => !rulesAfter.includes(l)), [], 'no rule of the live containers lost');
    assert.match(await d.ok(['system', 'check']), /No problems found/);
    await d.ok(['rm', '-f', keep, dies, peer]);
    await d.ok(['network', 'rm', 'crash']);
  });

  test('the docker CLI: network create, run with aliases and ports, connect, port, inspect', async () => {
    const created = await d.docker(['network', 'create', 'dk']);
    assert.equal(created.code, 0, created.stderr);
    const srv = await d.docker(['run', '-d', '--name', 'dk-web', '--network', 'dk', '--network-alias', 'svc', '-p', '80', 'busybox', ...HTTPD]);
    assert.equal(srv.code, 0, srv.stderr);
    const client = (await d.docker(['run', '-d', '--name', 'dk-client', 'busybox', 'sleep', '1000'])).stdout.trim();
    assert.equal((await d.docker(['network', 'connect', '--alias', 'cli', 'dk', client])).code, 0);
    // It started on the default bridge: joining a user network gives it that network's resolver (as docker).
    assert.match((await d.docker(['exec', client, 'cat', '/etc/resolv.conf'])).stdout, /^nameserver \d+\.\d+\.\d+\.1$/m);
    // httpd may still be starting.
    const get = async () => (await d.docker(['exec', client, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc svc 80`])).stdout;
    const page = await eventually(async () => {
      const out = await get();
      return /HTTP\/1\.[01] 200/.test(out) ? out : '';
    }, 5000);
    assert.match(page, new RegExp(await inspect(d, 'dk-web', '{{.Config.Hostname}}')));
    const port = await d.docker(['port', 'dk-web', '80']);
    assert.match(port.stdout, /0\.0\.0\.0:\d+/);
    assert.match(await talk(Number(port.stdout.trim().split(':')[1])), /200 OK/);
    const ls = await d.docker(['network', 'ls']);
    assert.match(ls.stdout, /dk\s+bridge\s+local/);
    const ins = JSON.parse((await d.docker(['network', 'inspect', 'dk'])).stdout)[0];
    assert.equal(Object.keys(ins.Containers).length, 2);
    const ctr = JSON.parse((await d.docker(['inspect', 'dk-web'])).stdout)[0];
    assert.deepEqual(ctr.NetworkSettings.Networks.dk.Aliases.slice(0, 1), ['svc']);
    assert.equal((await d.docker(['rm', '-f', 'dk-web', 'dk-client'])).code, 0);
    assert.equal((await d.docker(['network', 'rm', 'dk'])).code, 0);
  });

  test('docker-compose: project networks, service names and aliases, an internal network, published ports, down', async () => {
    const dir = path.join(d.dir, 'proj');
    fs.mkdirSync(dir, { recursive: true });
    const port = 20000 + Math.floor(Math.random() * 20000);
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), [
      'version: "3.8"',
      'services:',
      '  db:',
      '    image: busybox',
      `    command: ${JSON.stringify(HTTPD)}`,
      '    networks:',
      '      back:',
      '        aliases: [database]',
      '  web:',
      '    image: busybox',
      `    command: ${JSON.stringify(HTTPD)}`,
      '    depends_on: [db]',
      `    ports: ["127.0.0.1:${port}:80"]`,
      '    networks: [front, back]',
      'networks:',
      '  front: {}',
      '  back:',
      '    internal: true',
      '',
    ].join('\n'));
    const compose = (args: string[]) => exec('docker-compose', ['-H', d.host, '-p', 'proj', '-f', path.join(dir, 'docker-compose.yml'), ...args], { timeoutMs: 120_000 });
    const up = await compose(['up', '-d']);
    assert.equal(up.code, 0, up.stderr);
    try {
      const dbIp = await ipOn(d, 'proj_db_1', 'proj_back');
      for (const name of ['db', 'database']) assert.equal(await resolve(d, 'proj_web_1', name), dbIp, `web resolves ${name}`);
      const dbHost = await inspect(d, 'proj_db_1', '{{.Config.Hostname}}');
      const page = await eventually(async () => {
        const out = (await d.berth(['exec', 'proj_web_1', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc database 80`])).stdout;
        return out.includes(dbHost) ? out : '';
      }, 5000);
      assert.match(page, /200 OK/);
      const viaPort = await eventually(async () => {
        const out = await talk(port).catch(() => '');
        return out.includes('200 OK') ? out : '';
      }, 5000);
      assert.match(viaPort, new RegExp(await inspect(d, 'proj_web_1', '{{.Config.Hostname}}')));
      // db is on the internal network only: front is out of its reach.
      assert.equal(await d.ok(['network', 'inspect', '-f', '{{.Internal}}', 'proj_back']), 'true');
      assert.equal(await pings(d, 'proj_db_1', await ipOn(d, 'proj_web_1', 'proj_front')), false);
      const ps = await compose(['ps']);
      assert.match(ps.stdout, /proj_web_1.*Up/);
    } finally {
      const down = await compose(['down', '-t', '1']);
      assert.equal(down.code, 0, down.stderr);
    }
    assert.equal(await d.ok(['ps', '-aq', '--filter', 'label=com.docker.compose.project=proj']), '');
    assert.equal(await d.ok(['network', 'ls', '-q', '--filter', 'name=proj_']), '');
  });

  test('system check finds and repairs what a crashed start left of a network set-up', async () => {
    await d.ok(['network', 'create', 'orphan']);
    const netId = JSON.parse(await d.ok(['network', 'inspect', 'orphan']))[0].Id;
    const lease = path.join(d.execRoot, 'networks', 'ipam', netId, '10.231.250.9');
    fs.mkdirSync(path.dirname(lease), { recursive: true });
    fs.writeFileSync(lease, `${'f'.repeat(64)}\r\neth0`);
    const ns = path.join(d.execRoot, 'netns', 'e'.repeat(64));
    fs.mkdirSync(path.dirname(ns), { recursive: true });
    fs.writeFileSync(ns, '');
    assert.equal((await exec('unshare', [`--net=${ns}`, 'true'])).code, 0);
    // A state write cut off by the crash: a temp file, not a container's set-up.
    const temp = path.join(d.execRoot, 'networks', 'endpoints', `${'d'.repeat(64)}.json.0badf00d.tmp`);
    fs.writeFileSync(temp, '{"id":');
    fs.utimesSync(temp, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const found = await d.berth(['system', 'check']);
    assert.equal(found.code, 1);
    assert.match(found.stdout, /ip-lease/);
    assert.match(found.stdout, new RegExp(`network-endpoint\\s+${'e'.repeat(64)}\\s`));
    assert.match(found.stdout, /temp-file.*0badf00d\.tmp/);
    assert.doesNotMatch(found.stdout, /network-endpoint.*\.tmp/);
    await d.ok(['system', 'check', '--repair']);
    assert.match(await d.ok(['system', 'check']), /No problems found/);
    assert.ok(!fs.existsSync(lease) && !fs.existsSync(ns) && !fs.existsSync(temp));
    await d.ok(['network', 'rm', 'orphan']);
  });

  test("bridges and firewall rules no network record owns go at the daemon's start; a network whose bridge is gone is found and mended", async () => {
    const info = async (name: string) => JSON.parse(await d.ok(['network', 'inspect', name]))[0] as { Id: string };
    for (const n of ['lost-whole', 'lost-rules', 'cut']) await d.ok(['network', 'create', n]);
    const [whole, rules, cut] = await Promise.all(['lost-whole', 'lost-rules', 'cut'].map(info));
    const bridge = (n: { Id: string }) => `br-${n.Id.slice(0, 12)}`;
    // Records lost with a data root restored from an older backup; a bridge deleted by hand.
    await d.stop();
    for (const n of [whole, rules]) fs.rmSync(path.join(d.dataRoot, 'networks', `${n.Id}.json`));
    assert.equal((await exec('ip', ['link', 'del', bridge(rules)])).code, 0);
    assert.equal(rulesMentioning([bridge(rules)]).length, 6, 'the rules outlive the bridge');
    const logged = d.log.length;
    await d.start();
    const repaired = d.log.slice(logged).split('\n').filter((l) => l.includes('repaired at start-up'));
    assert.equal(repaired.filter((l) => l.includes('Kind=network-bridge') && l.includes(`Subject=${bridge(whole)}`) && l.includes('with 6 firewall rules')).length, 1, repaired.join('\n'));
    assert.equal(repaired.filter((l) => l.includes('Kind=firewall-rule') && l.includes(bridge(rules))).length, 6, repaired.join('\n'));
    assert.ok(!linkExists(bridge(whole)));
    assert.deepEqual(rulesMentioning([bridge(whole), bridge(rules)]), []);
    assert.ok(linkExists(bridge(cut)) && rulesMentioning([bridge(cut)]).length === 6, 'a network with its record keeps its bridge and rules');

    assert.equal((await exec('ip', ['link', 'del', bridge(cut)])).code, 0);
    const found = await d.berth(['system', 'check']);
    assert.equal(found.code, 1, found.stdout);
    assert.match(found.stdout, new RegExp(`network-bridge\\s+${bridge(cut)}\\s+network cut's bridge is gone`));
    await d.ok(['system', 'check', '--repair']);
    assert.match(await d.ok(['system', 'check']), /No problems found/);
    const gateway = await d.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'cut']);
    const ping = await d.berth(['run', '--rm', '--network', 'cut', 'busybox', 'ping', '-c1', '-W2', gateway]);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    await d.ok(['network', 'rm', 'cut']);
  });

  test('nothing is left behind', async () => {
    await d.assertClean();
  });
});
