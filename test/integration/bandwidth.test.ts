import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { api, eventually, freeTestPrefix, rulesMentioning, TestDaemon } from './harness';
import { shareParts } from './host-offers';

/**
 * --network-bandwidth on a shared link of the suite's own: a veth to a
 * "test host" namespace, given to the daemon as its link with a capacity
 * of 100 Mbit/s. What the shares give under load is bench/network's to
 * show (rates are timings); here: the classes, where traffic lands, the
 * admission rules, repair and clean-up.
 */
describe('network bandwidth shares', () => {
  const d = new TestDaemon();
  const link = `bwl${d.tag.slice(0, 6)}`;
  const peerNs = `bwh${d.tag}`;
  const prefix = freeTestPrefix();
  const peer = `${prefix}.250.2`;
  const supported = shareParts();
  const daemonArgs = ['--bandwidth-link', link, '--bandwidth-capacity', '100mbit'];

  const sh = (cmd: string, ...args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The link's HTB classes: minor (hex) → the words tc prints. */
  const classes = () => new Map([...sh('tc', 'class', 'show', 'dev', link).matchAll(/^class htb 1:([0-9a-f]+) (.*)$/gm)].map((m) => [m[1], m[2]]));
  const sentBytes = () => new Map([...sh('tc', '-s', 'class', 'show', 'dev', link).matchAll(/^class htb 1:([0-9a-f]+) [^\n]*\n\s*Sent (\d+) bytes/gm)].map((m) => [m[1], Number(m[2])]));
  const ipOf = (ref: string) => d.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', ref]);
  /** The minor of the class a container's address is classified into. */
  const minorOf = async (ref: string) => {
    const ip = await ipOf(ref);
    const rule = rulesMentioning([`${ip}/32`]).find((r) => r.includes('CLASSIFY'));
    assert.ok(rule, `a CLASSIFY rule for ${ref} (${ip})`);
    return parseInt(/--set-class 0001:([0-9a-f]+)/.exec(rule)![1], 16).toString(16);
  };

  before(async () => {
    sh('ip', 'netns', 'add', peerNs);
    sh('ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peerNs);
    sh('ip', 'addr', 'add', `${prefix}.250.1/30`, 'dev', link);
    sh('ip', 'link', 'set', link, 'up');
    sh('ip', '-n', peerNs, 'addr', 'add', `${peer}/30`, 'dev', 'eth0');
    sh('ip', '-n', peerNs, 'link', 'set', 'eth0', 'up');
    await d.start(daemonArgs);
    await d.importBusybox();
  });

  after(async () => {
    await d.cleanup();
    spawnSync('ip', ['link', 'del', link]);
    spawnSync('ip', ['netns', 'del', peerNs]);
  });

  test('where the kernel lacks HTB or CLASSIFY, a share is refused and says why', { skip: supported && 'this host has both' }, async () => {
    const r = await d.berth(['run', '--rm', '--network-bandwidth', 'guarantee=10mbit', 'busybox', 'true']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /cannot be given on this host: the kernel lacks/);
  });

  const when = { skip: !supported && 'the kernel lacks HTB or iptables CLASSIFY' };

  test('shares become HTB classes on the shared link: guarantee as rate, limit as ceil, priority; traffic lands in its container\'s class', when, async () => {
    await d.ok(['run', '-d', '--name', 'bw-a', '--network-bandwidth', 'guarantee=20mbit', 'busybox', 'sleep', '1000']);
    await d.ok(['run', '-d', '--name', 'bw-b', '--network-bandwidth', 'guarantee=60mbit,limit=80mbit,priority=2', 'busybox', 'sleep', '1000']);
    const [a, b] = [await minorOf('bw-a'), await minorOf('bw-b')];
    assert.notEqual(a, b);
    const cls = classes();
    assert.match(cls.get('1')!, /root rate 100Mbit ceil 100Mbit/);
    assert.match(cls.get(a)!, /prio 7 rate 20Mbit ceil 100Mbit/);
    assert.match(cls.get(b)!, /prio 5 rate 60Mbit ceil 80Mbit/);
    // What nobody guarantees is the host's, at the lowest priority.
    assert.match(cls.get('ffff')!, /prio 7 rate 20Mbit ceil 100Mbit/);
    assert.match(sh('tc', 'qdisc', 'show', 'dev', link), /qdisc htb 1: root .*default 0xffff|qdisc htb 1: root .*default ffff/);
    assert.equal(await d.ok(['inspect', '-f', '{{json .HostConfig.NetworkBandwidth}}', 'bw-b']), '{"Guarantee":60000000,"Limit":80000000,"Priority":2}');
    const before = sentBytes();
    await d.ok(['exec', 'bw-a', 'ping', '-c', '20', '-i', '0.05', '-s', '1000', '-W', '2', peer]);
    const grown = (minor: string) => (sentBytes().get(minor) ?? 0) - (before.get(minor) ?? 0);
    assert.ok(grown(a) >= 20 * 1000, `bw-a's class carried its pings (${grown(a)} bytes)`);
    assert.ok(grown(b) < 1000, `bw-b's class carried none of them (${grown(b)} bytes)`);
  });

  test('update changes a share live and `none` lifts it; a share that does not fit changes nothing', when, async () => {
    const a = await minorOf('bw-a');
    await d.ok(['update', '--network-bandwidth', 'guarantee=30mbit,priority=7', 'bw-a']);
    assert.match(classes().get(a)!, /prio 0 rate 30Mbit ceil 100Mbit/);
    const r = await d.berth(['update', '--network-bandwidth', 'guarantee=50mbit', 'bw-a']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /guarantee of 50Mbit does not fit on the shared link .*: 60Mbit of its 100Mbit are guaranteed to running containers, 40Mbit are free/);
    assert.match(classes().get(a)!, /prio 0 rate 30Mbit/, 'the refused update changed nothing');
    assert.equal(await d.ok(['inspect', '-f', '{{json .HostConfig.NetworkBandwidth}}', 'bw-a']), '{"Guarantee":30000000,"Limit":0,"Priority":7}');
    const ip = await ipOf('bw-a');
    await d.ok(['update', '--network-bandwidth', 'none', 'bw-a']);
    assert.equal(classes().get(a), undefined);
    assert.deepEqual(rulesMentioning([`${ip}/32`]).filter((l) => l.includes('CLASSIFY')), []);
    await d.ok(['update', '--network-bandwidth', 'guarantee=20mbit', 'bw-a']);
    await minorOf('bw-a');
  });

  test('bad input is refused with a clear error, Docker\'s status, and nothing made', when, async () => {
    const count = async () => (await d.ok(['ps', '-aq'])).split('\n').filter(Boolean).length;
    const n = await count();
    const refused: [string[], RegExp][] = [
      [['--network-bandwidth', 'guarantee=200mbit'], /guarantee of 200Mbit is above the capacity of the shared link bwl\w+ \(100Mbit\)/],
      [['--network-bandwidth', 'guarantee=10'], /a rate such as 10mbit/],
      [['--network-bandwidth', 'guarantee=20mbit,limit=10mbit'], /limit \(10Mbit\) is below the guarantee \(20Mbit\)/],
      [['--network-bandwidth', 'priority=9'], /from 0 to 7/],
      [['--network', 'host', '--network-bandwidth', 'guarantee=1mbit'], /needs a network of the container's own/],
    ];
    for (const [flags, message] of refused) {
      const r = await d.berth(['run', '-d', ...flags, 'busybox', 'sleep', '1']);
      assert.equal(r.code, 125, flags.join(' '));
      assert.match(r.stderr, message);
    }
    for (const [share, message] of [[{ Guarantee: -5 }, /not negative/], [{ Priority: 9 }, /from 0 to 7/], [{ Guarantee: 2e8 }, /above the capacity/]] as const) {
      const res = await api(d, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkBandwidth: share } });
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, message);
    }
    assert.equal(await count(), n, 'nothing was created');
    // The sum over the link is known only at start: as docker with a port taken, the container is made but does not run.
    const r = await d.berth(['run', '-d', '--name', 'bw-over', '--network-bandwidth', 'guarantee=30mbit', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /guarantee of 30Mbit does not fit on the shared link .*: 80Mbit of its 100Mbit are guaranteed to running containers, 20Mbit are free/);
    const started = await api(d, 'POST', '/containers/bw-over/start');
    assert.equal(started.status, 409, started.body);
    assert.equal(await d.ok(['inspect', '-f', '{{.State.Running}}', 'bw-over']), 'false');
    assert.equal(classes().size, 4, 'root, host and the two running shares');
    await d.ok(['rm', 'bw-over']);
  });

  test('the classification rules come back after `iptables -t mangle -F`', when, async () => {
    const a = await minorOf('bw-a');
    const save = sh('iptables-save', '-t', 'mangle');
    try {
      sh('iptables', '-w', '-t', 'mangle', '-F');
      await eventually(async () => (await minorOf('bw-a').catch(() => '')) === a, 10_000);
      assert.match(d.log, /put back.*CLASSIFY/);
    } finally {
      // The mangle table as it was (others' rules too: docker's, other daemons').
      spawnSync('iptables-restore', ['-T', 'mangle'], { input: save });
    }
  });

  test('a daemon restart keeps the shares; the last share gone takes HTB off the link and leaves no rule', when, async () => {
    const a = await minorOf('bw-a');
    await d.stop();
    await d.start(daemonArgs);
    assert.match(classes().get(a)!, /rate 20Mbit/);
    assert.equal(await minorOf('bw-a'), a);
    await d.ok(['rm', '-f', 'bw-a']);
    assert.ok(classes().size > 0, 'bw-b still has its class');
    await d.ok(['rm', '-f', 'bw-b']);
    assert.doesNotMatch(sh('tc', 'qdisc', 'show', 'dev', link), /htb/);
    assert.deepEqual(rulesMentioning([link]), []);
    await d.assertClean();
  });
});
