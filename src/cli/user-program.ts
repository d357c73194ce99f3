/** Registers `weir user add | ls | info | rm | passwd | edit | token add | token rm`. */
import { Option, type Command } from 'commander';
import { collect, urlOption } from './command-options.js';
import {
  userAdd,
  userEdit,
  userInfo,
  userList,
  userPassword,
  userRemove,
  userTokenAdd,
  userTokenRemove,
  type PasswordFlags,
  type UserAddFlags,
  type UserEditFlags,
} from './user-commands.js';
import type { UserTargetFlags } from './user-directory.js';

/** --data-dir and --url: the two ways to reach the users (user-directory.ts). */
function target(command: Command): Command {
  return command
    .option(
      '--data-dir <dir>',
      'work on the users file of a stopped broker (default: through the server at --url)',
    )
    .addOption(urlOption());
}

function passwordOptions(command: Command): Command {
  return command
    .option('--password-stdin', 'read the password from the first line of stdin (the way to)')
    .option('--password <password>', 'the password (visible to ps and in shell history)');
}

const permissionHelp =
  'publish:SUBJECT-PATTERN, subscribe:STREAM or subscribe:STREAM:SUBSCRIPTION (repeatable)';

export function registerUserCommands(program: Command): void {
  const user = program
    .command('user')
    .description('users, their permissions and tokens (docs/security.md)');

  passwordOptions(target(user.command('add <name>')))
    .description('add a user (with a password, a token, or both)')
    .option('--token', 'make a token for the user too, and print it (once)', false)
    .option('--admin', 'may do everything: streams, dead letters, users', false)
    .option('--allow <permission>', `allow ${permissionHelp}`, collect, [])
    .option('--deny <permission>', `refuse, even where allowed: ${permissionHelp}`, collect, [])
    .option('--json', 'print JSON', false)
    .action((name: string, flags: UserAddFlags) => userAdd(name, flags));

  target(user.command('ls'))
    .description('list users')
    .option('--json', 'print JSON', false)
    .action((flags: UserTargetFlags & { json: boolean }) => userList(flags));

  target(user.command('info <name>'))
    .description('a user’s permissions and tokens (never a password or a token itself)')
    .option('--json', 'print JSON', false)
    .action((name: string, flags: UserTargetFlags & { json: boolean }) => userInfo(name, flags));

  target(user.command('rm <name>'))
    .description('delete a user (its connections keep what they had until they close)')
    .action((name: string, flags: UserTargetFlags) => userRemove(name, flags));

  passwordOptions(target(user.command('passwd <name>')))
    .description('set a user’s password')
    .action((name: string, flags: UserTargetFlags & PasswordFlags) => userPassword(name, flags));

  target(user.command('edit <name>'))
    .description('change admin, allow or deny (each one given replaces the old; none empties)')
    .addOption(new Option('--admin', 'make the user an admin'))
    .addOption(new Option('--no-admin', 'make the user not an admin'))
    .option('--allow <permission|none>', `allow ${permissionHelp}`, collect, [])
    .option('--deny <permission|none>', `refuse ${permissionHelp}`, collect, [])
    .option('--json', 'print the user as JSON', false)
    .action((name: string, flags: UserEditFlags) => userEdit(name, flags));

  const token = user.command('token').description('a user’s tokens (for services)');
  target(token.command('add <name>'))
    .description('make a token for a user and print it (shown this once)')
    .option('--json', 'print JSON: { id, token }', false)
    .action((name: string, flags: UserTargetFlags & { json: boolean }) =>
      userTokenAdd(name, flags),
    );
  target(token.command('rm <name> <id>'))
    .description('delete a user’s token (by the id `user info` shows)')
    .action((name: string, id: string, flags: UserTargetFlags) => userTokenRemove(name, id, flags));
}
