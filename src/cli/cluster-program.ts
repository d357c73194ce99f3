/** Registers `weir cluster status`. */
import type { Command } from 'commander';
import { withClient, type ClientFlags } from './client-connection.js';
import { urlOption } from './command-options.js';
import { formatClusterStatus } from './cluster-format.js';

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('the cluster this broker belongs to');
  cluster
    .command('status')
    .description(
      'the nodes (role, in sync, acked op, lag), the leader and its epoch, and each stream’s replicas and minInSync',
    )
    .addOption(urlOption())
    .option('--json', 'print the ClusterStatus as JSON', false)
    .action(async (flags: ClientFlags & { json: boolean }) => {
      const { json, ...target } = flags;
      await withClient(target, async (client) => {
        const status = await client.cluster.status();
        console.log(json ? JSON.stringify(status, null, 2) : formatClusterStatus(status));
      });
    });
}
