#!/usr/bin/env node
/** The `weir` command. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runDemo } from './demo.js';

const packageJson = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { version: string };

const HELP = `weir ${packageJson.version} — a durable message broker

Usage: weir <command> [options]

Commands:
  demo [--data-dir DIR]   append records to a log in DIR (default ./data), read them back
  version                 print the version
  help                    print this help
`;

const [command = 'help', ...rest] = process.argv.slice(2);
switch (command) {
  case 'demo': {
    const { values } = parseArgs({
      args: rest,
      options: { 'data-dir': { type: 'string', default: './data' } },
    });
    await runDemo(values['data-dir']);
    break;
  }
  case 'version':
  case '--version':
  case '-v':
    console.log(packageJson.version);
    break;
  case 'help':
  case '--help':
  case '-h':
    console.log(HELP);
    break;
  default:
    console.error(`weir: unknown command "${command}"\n\n${HELP}`);
    process.exitCode = 2;
}
