/**
 * The privilege errors of the ports, with the exact fix each carries: an agent runs with
 * CAP_NET_ADMIN and CAP_NET_RAW removed from its bounding set (setpriv), or with /dev/net
 * hidden under an empty tmpfs in a private mount namespace (unshare). Needs root and util-linux.
 */
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { TUN_FIX_NO_CAPABILITY, TUN_FIX_NO_DEVICE } from '../../src/io/tun.js';
import { RAW_FIX_NO_CAPABILITY } from '../../src/io/raw.js';
import { AgentError, Lab, uniqueName } from '../helpers/netns.js';

const lab = new Lab();

after(async () => {
  await lab.cleanup();
});

const DROP_CAPS = ['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin,-net_raw', '--'];
const NO_DEV_NET = ['unshare', '--mount', '--', 'sh', '-c', 'mount -t tmpfs tmpfs /dev/net && exec "$@"', 'sh'];

function privilegeError(fix: string, mentions: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.errorName, 'PrivilegeError');
    assert.equal(err.code, 'ERR_PRIVILEGE');
    assert.equal(err.fix, fix);
    assert.match(err.message, mentions);
    return true;
  };
}

test('without CAP_NET_ADMIN, opening a TUN names the capability and the container flags', async () => {
  const agent = await lab.agent(DROP_CAPS);
  await assert.rejects(
    agent.call('tun', { name: uniqueName('np') }),
    privilegeError(TUN_FIX_NO_CAPABILITY, /CAP_NET_ADMIN/),
  );
  await agent.stop();
});

test('without CAP_NET_RAW, a raw ESP socket names the capability and --cap-add NET_RAW', async () => {
  const agent = await lab.agent(DROP_CAPS);
  for (const family of [4, 6]) {
    await assert.rejects(agent.call('open', { kind: 'raw', family }), privilegeError(RAW_FIX_NO_CAPABILITY, /CAP_NET_RAW/));
  }
  await agent.stop();
});

test('without /dev/net/tun, the fix says how to create the device node', async () => {
  const agent = await lab.agent(NO_DEV_NET);
  await assert.rejects(agent.call('tun', { name: uniqueName('nd') }), privilegeError(TUN_FIX_NO_DEVICE, /\/dev\/net\/tun/));
  await agent.stop();
});

test('the fixes are the documented ones', () => {
  assert.equal(
    TUN_FIX_NO_DEVICE,
    'create it: mkdir -p /dev/net && mknod /dev/net/tun c 10 200 (in a container: --device /dev/net/tun)',
  );
  assert.equal(
    TUN_FIX_NO_CAPABILITY,
    'run as root or grant CAP_NET_ADMIN (in a container: --cap-add NET_ADMIN --device /dev/net/tun)',
  );
  assert.match(RAW_FIX_NO_CAPABILITY, /CAP_NET_RAW/);
  assert.match(RAW_FIX_NO_CAPABILITY, /--cap-add NET_RAW/);
});
