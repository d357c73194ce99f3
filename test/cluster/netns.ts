/**
 * A network of namespaces made by the test, for cutting a node off: a bridge in this
 * namespace (the hub, where etcd and the test's clients are) and, per node, a namespace joined
 * to the bridge by a veth pair. `cut(node)` drops everything the node's namespace sends or
 * receives on its veth (nft, in that namespace; loopback stays up), `heal(node)` removes the
 * drop. Traffic never leaves the namespaces the test made: the subnet is on the bridge only.
 *
 * Needs root, iproute2's `ip`, util-linux's nsenter and nft; `createNamespaceNetwork` returns the reason it cannot
 * (a string) otherwise, which the test skips with.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface NamespaceNetwork {
  /** The bridge's address: etcd listens here; clients in this namespace reach nodes from it. */
  readonly hubAddress: string;
  addressOf(nodeId: string): string;
  namespaceOf(nodeId: string): string;
  /**
   * The command that runs `argv` in the node's namespace: nsenter, which execs it (so a
   * signal sent to the child reaches it; `ip netns exec` forks, and a SIGTERM or SIGKILL of
   * it would leave the program running).
   */
  commandIn(nodeId: string, argv: readonly string[]): { command: string; args: string[] };
  cut(nodeId: string): Promise<void>;
  heal(nodeId: string): Promise<void>;
  destroy(): Promise<void>;
}

/** Each command of the set-up ends within this. */
const COMMAND_MS = 10_000;

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: COMMAND_MS }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`))
        : resolve(stdout),
    );
  });
}

async function available(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    await run('ip', ['-V']);
  } catch {
    return "iproute2's ip is not installed (apt-get install iproute2)";
  }
  try {
    await run('nsenter', ['--version']);
  } catch {
    return "util-linux's nsenter is not installed";
  }
  try {
    await run('nft', ['--version']);
  } catch {
    return 'nft is not installed (apt-get install nftables)';
  }
  return null;
}

export async function createNamespaceNetwork(
  nodeIds: readonly string[],
): Promise<NamespaceNetwork | string> {
  const missing = await available();
  if (missing !== null) return missing;
  const tag = randomBytes(3).toString('hex'); // names stay within IFNAMSIZ (15)
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
  const bridge = `wb${tag}`;
  const made: { namespaces: string[]; links: string[] } = { namespaces: [], links: [] };
  const namespaces = new Map<string, { name: string; address: string; veth: string }>();
  const destroy = async () => {
    for (const name of made.namespaces) await run('ip', ['netns', 'del', name]).catch(() => {});
    for (const link of made.links) await run('ip', ['link', 'del', link]).catch(() => {});
  };
  try {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    made.links.push(bridge);
    await run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    for (const [index, nodeId] of nodeIds.entries()) {
      const name = `weir-${tag}-${index}`;
      const outer = `wv${tag}${index}a`;
      const inner = `wv${tag}${index}b`;
      const address = `${subnet}.${10 + index}`;
      await run('ip', ['netns', 'add', name]);
      made.namespaces.push(name);
      await run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      made.links.push(outer);
      await run('ip', ['link', 'set', inner, 'netns', name]);
      await run('ip', ['link', 'set', outer, 'master', bridge]);
      await run('ip', ['link', 'set', outer, 'up']);
      await run('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `${address}/24`, 'dev', inner]);
      await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', inner, 'up']);
      await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
      namespaces.set(nodeId, { name, address, veth: inner });
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  const of = (nodeId: string) => {
    const entry = namespaces.get(nodeId);
    if (entry === undefined) throw new Error(`no namespace for ${nodeId}`);
    return entry;
  };
  return {
    hubAddress: `${subnet}.1`,
    addressOf: (nodeId) => of(nodeId).address,
    namespaceOf: (nodeId) => of(nodeId).name,
    commandIn: (nodeId, argv) => ({
      command: 'nsenter',
      args: [`--net=/run/netns/${of(nodeId).name}`, '--', ...argv],
    }),
    async cut(nodeId) {
      const { name, veth } = of(nodeId);
      const nft = (...args: string[]) => run('ip', ['netns', 'exec', name, 'nft', ...args]);
      await nft('add', 'table', 'inet', 'weircut');
      await nft(
        'add chain inet weircut in { type filter hook input priority 0 ; policy accept ; }',
      );
      await nft(
        'add chain inet weircut out { type filter hook output priority 0 ; policy accept ; }',
      );
      await nft('add', 'rule', 'inet', 'weircut', 'in', 'iifname', veth, 'drop');
      await nft('add', 'rule', 'inet', 'weircut', 'out', 'oifname', veth, 'drop');
    },
    async heal(nodeId) {
      const { name } = of(nodeId);
      await run('ip', ['netns', 'exec', name, 'nft', 'delete', 'table', 'inet', 'weircut']);
    },
    destroy,
  };
}
